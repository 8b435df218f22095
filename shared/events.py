"""The event envelope and the registry of versioned event contracts.

Every event type has one marshmallow schema per version, registered here and imported by the
producer and the consumers alike. Changing a contract means registering a new version.
"""

from __future__ import annotations

import os
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError, fields, validate

from shared.plain import Checker, plain_checker

EVENT_TYPE = validate.Regexp(
    r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", error="not a service.event name"
)


class EventError(Exception):
    """An event is malformed or of an unknown type or version."""


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=EVENT_TYPE)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    producer = fields.String(required=True, validate=validate.Length(min=1, max=64))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    actor = fields.String(load_default="system", validate=validate.Length(max=256))
    data = fields.Dict(required=True)


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


class _RandomIds:
    """Version-4 UUIDs from a buffer of OS randomness refilled 4 KiB at a time.

    Same randomness as ``uuid.uuid4()`` (``os.urandom``) without one system call per id; the
    buffer is dropped in a forked child, so no two processes hand out the same bytes.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer = b""
        self.offset = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self.buffer, self.offset = b"", 0

    def __call__(self) -> str:
        with self.lock:
            if self.offset + 16 > len(self.buffer):
                self.buffer, self.offset = os.urandom(4096), 0
            raw = self.buffer[self.offset : self.offset + 16]
            self.offset += 16
        # str(uuid.UUID(bytes=raw, version=4)) without building the object: version 4 in the
        # high nibble of byte 6, variant 10xx in the two high bits of byte 8
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


new_id = _RandomIds()


@dataclass(frozen=True)
class Event:
    """A fact that happened, as it travels between services."""

    type: str
    data: dict[str, Any]
    producer: str
    version: int = 1
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str = field(default_factory=new_id)
    actor: str = "system"

    @property
    def routing_key(self) -> str:
        return self.type

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.astimezone(UTC)
            .replace(tzinfo=None)
            .isoformat(timespec="microseconds")
            + "Z",
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "actor": self.actor,
            "data": self.data,
        }


_CONTRACTS: dict[tuple[str, int], type[Schema]] = {}
_INSTANCES: dict[tuple[str, int], Schema] = {}
_CHECKERS: dict[tuple[str, int], tuple[Schema, Checker | None]] = {}
_ENVELOPE = EnvelopeSchema()

S = TypeVar("S", bound=type[Schema])


def contract(event_type: str, version: int = 1) -> Callable[[S], S]:
    """Class decorator registering the schema of ``event_type`` at ``version``."""
    EVENT_TYPE(event_type)

    def register(schema: S) -> S:
        key = (event_type, version)
        if key in _CONTRACTS and _CONTRACTS[key] is not schema:
            raise EventError(f"contract {event_type} v{version} is already registered")
        _CONTRACTS[key] = schema
        return schema

    return register


def contract_for(event_type: str, version: int) -> type[Schema]:
    try:
        return _CONTRACTS[(event_type, version)]
    except KeyError:
        raise EventError(f"unknown event contract {event_type} v{version}") from None


def _schema(event_type: str, version: int) -> Schema:
    """A reusable instance of the contract's schema (building one per event is costly)."""
    key = (event_type, version)
    schema = _INSTANCES.get(key)
    if schema is None or type(schema) is not contract_for(event_type, version):
        schema = _INSTANCES[key] = contract_for(event_type, version)()
    return schema


def _clean(event_type: str, version: int, data: Any) -> Any:
    """``data`` loaded and dumped by its contract: by the contract's plain check when the data
    is in plain form (:mod:`shared.plain`, the same result without a marshmallow pass), by the
    schema otherwise (which also says what is wrong)."""
    schema = _schema(event_type, version)
    found = _CHECKERS.get((event_type, version))
    if found is None or found[0] is not schema:
        found = _CHECKERS[(event_type, version)] = (schema, plain_checker(schema))
    check = found[1]
    if check is not None:
        clean = check(data)
        if clean is not None:
            return clean
    try:
        return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise EventError(f"{event_type} v{version}: invalid data {exc.messages}") from exc


def registered_contracts() -> list[tuple[str, int]]:
    return sorted(_CONTRACTS)


def nfc(value: Any) -> Any:
    """NFC-normalise every string inside a JSON-like value.

    NUL cannot be stored in PostgreSQL text or jsonb, so it becomes U+FFFD (visible, not lost).
    """
    if isinstance(value, str):
        if "\x00" not in value and unicodedata.is_normalized("NFC", value):
            return value  # the common case, checked without building a new string
        return unicodedata.normalize("NFC", value.replace("\x00", "\ufffd"))
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def make_event(
    event_type: str,
    data: dict[str, Any],
    *,
    producer: str,
    version: int = 1,
    actor: str = "system",
    correlation_id: str | None = None,
) -> Event:
    """Build an event whose data is validated against its registered contract."""
    return Event(
        type=event_type,
        data=_clean(event_type, version, nfc(data)),
        producer=producer,
        version=version,
        actor=actor,
        correlation_id=correlation_id or new_id(),
    )


def make_events(
    event_type: str,
    datas: list[dict[str, Any]],
    *,
    producer: str,
    version: int = 1,
    actor: str = "system",
    correlation_id: str | None = None,
) -> list[Event]:
    """Many events of one type (bulk producers such as imports), each checked as ``make_event``
    checks it; one correlation id and one time for all."""
    if not datas:
        return []
    try:
        clean = [_clean(event_type, version, data) for data in nfc(datas)]
    except EventError:
        # say which items are wrong, as the schema does for a list
        schema = _schema(event_type, version)
        try:
            schema.load(nfc(datas), many=True)
        except ValidationError as exc:
            raise EventError(f"{event_type} v{version}: invalid data {exc.messages}") from exc
        raise
    correlation = correlation_id or new_id()
    now = datetime.now(UTC)
    return [
        Event(
            type=event_type,
            data=data,
            producer=producer,
            version=version,
            actor=actor,
            correlation_id=correlation,
            occurred_at=now,
        )
        for data in clean
    ]


_ENVELOPE_KEYS = frozenset(EnvelopeSchema._declared_fields)
_REQUIRED_KEYS = _ENVELOPE_KEYS - {"actor"}


def _text(value: Any, longest: int, shortest: int = 0) -> bool:
    return type(value) is str and shortest <= len(value) <= longest


def _plain_envelope(body: dict[str, Any]) -> dict[str, Any] | None:
    """The envelope as ``EnvelopeSchema`` would load it, for the plain, valid form every Disan
    producer sends; None for anything else (the schema then decides). Saves most of the cost of
    receiving an event."""
    keys = body.keys()
    if not (_REQUIRED_KEYS <= keys <= _ENVELOPE_KEYS):
        return None
    version, data, actor = body["version"], body["data"], body.get("actor", "system")
    if not (
        type(version) is int
        and version >= 1
        and type(data) is dict
        and _text(body["event_id"], 45)
        and _text(body["type"], 1000)
        and _text(body["occurred_at"], 40)
        and _text(body["producer"], 64, 1)
        and _text(body["correlation_id"], 128, 1)
        and _text(actor, 256)
        and EVENT_TYPE.regex.match(body["type"]) is not None
    ):
        return None
    try:
        event_id = uuid.UUID(body["event_id"])
        occurred_at = datetime.fromisoformat(body["occurred_at"])
    except ValueError:
        return None
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return {
        "event_id": event_id,
        "type": body["type"],
        "version": version,
        "occurred_at": occurred_at,
        "producer": body["producer"],
        "correlation_id": body["correlation_id"],
        "actor": actor,
        "data": dict(data),
    }


def load_event(body: Any) -> Event:
    """Validate a received envelope and its data; raise EventError with the reason."""
    if not isinstance(body, dict):
        raise EventError("event body is not a JSON object")
    env = _plain_envelope(body)
    if env is None:  # anything unusual: the schema decides, and says why
        try:
            env = _ENVELOPE.load(body)
        except ValidationError as exc:
            raise EventError(f"invalid envelope: {exc.messages}") from exc
    return Event(
        type=env["type"],
        data=_clean(env["type"], env["version"], env["data"]),
        producer=env["producer"],
        version=env["version"],
        event_id=str(env["event_id"]),
        occurred_at=env["occurred_at"],
        correlation_id=env["correlation_id"],
        actor=env["actor"],
    )
