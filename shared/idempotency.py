"""Idempotent creating RPCs: a request key carried from the gateway, remembered with the effect.

RabbitMQ redelivers an RPC request whose worker died before acknowledging it, and a client
repeats a request whose answer it did not get (a 503 after a timeout, a dropped connection).
Either way the same request reaches a service twice. The gateway gives every HTTP request a key —
the client's ``Idempotency-Key`` header, else one generated for the request — and puts it into
nameko's context data, which travels in the headers of every RPC the request makes (and of the
RPCs those make in turn). A creating RPC method decorated with :func:`idempotent` records
(key, method) with a fingerprint of its arguments and its result in the service's own schema, in
the same transaction as its effect (``idempotent_requests``, kernel migration 0002): a repeat
waits for the first to commit or roll back, then returns the remembered result instead of acting
twice. The same key with other arguments is a 409 ``idempotency_key_reused``. ADR 0010.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import random
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

import eventlet
from kombu.utils import json as kombu_json
from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, text

from shared.db import Database, DbSession
from shared.errors import BadRequest, Conflict

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
# context data keys (nameko carries them as ``nameko.<key>`` message headers)
REQUEST_KEY = "request_key"  # the HTTP request's key, set once by the gateway
CALL_KEY = "idempotency_key"  # the key of one RPC call, set by the caller before each call
MAX_KEY_LENGTH = 200
NAMESPACE = uuid.UUID("5d1f0c52-8a43-4f1e-9a55-1d2b3c4e5f60")  # of ids derived from a key
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, no spaces (a UUID fits)


class KeyReused(Conflict):
    """The key was used before for a request with other arguments (or by another caller)."""

    code = "idempotency_key_reused"


def request_context(header: str | None) -> dict[str, str]:
    """The context data of an HTTP request: the client's key, or a new one; 400 if malformed."""
    if header is None or header == "":
        return {REQUEST_KEY: str(uuid.uuid4())}
    if not _KEY.match(header):
        raise BadRequest(
            f"the {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "without spaces (a UUID is best)",
            {
                "reason": "idempotency_key_invalid",
                "header": HEADER,
                "text": {
                    "vi": f"Tiêu đề {HEADER} phải gồm 1 đến {MAX_KEY_LENGTH} ký tự ASCII "
                    "nhìn thấy được, không có dấu cách (nên dùng UUID).",
                    "en": f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII "
                    "characters without spaces (a UUID is best).",
                },
            },
        )
    return {REQUEST_KEY: header}


def call_key(request_key: str, method: str, seen: dict[str, int]) -> str:
    """The key of the next call of ``method`` in a request: the request's key for the first,
    ``key#n`` for the n-th (a request that calls a method twice asks for two effects).

    ``seen`` counts the calls made so far; a repeated request makes the same calls in the same
    order, so each gets the same key again.
    """
    seen[method] = seen.get(method, 0) + 1
    n = seen[method]
    return request_key if n == 1 else f"{request_key}#{n}"


def fingerprint(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """A digest of a call's arguments (as JSON, keys sorted): what "the same request" means."""
    text = json.dumps([list(args), dict(kwargs)], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestKey(DependencyProvider):  # type: ignore[misc]
    """The idempotency key of the RPC call a worker runs, or None (events, timers, old callers)."""

    def get_dependency(self, worker_ctx: Any) -> str | None:
        value = (worker_ctx.data or {}).get(CALL_KEY)
        return str(value) if value else None


_REMEMBER = (
    "INSERT INTO idempotent_requests (key, method, fingerprint) VALUES (:key, :method, :fp) "
    "ON CONFLICT (key, method) DO NOTHING RETURNING 1"
)
_RECALL = (
    "SELECT fingerprint, result FROM idempotent_requests WHERE key = :key AND method = :method"
)
_RESULT = "UPDATE idempotent_requests SET result = :result WHERE key = :key AND method = :method"


def begin(db: DbSession, key: str, method: str, fp: str) -> tuple[bool, Any]:
    """Claim (key, method) in the worker's transaction: ``(True, None)`` if this call is the
    first, ``(False, result)`` if a committed earlier call already did the work. A claim
    committed without a result (a method that commits a refusal's audit, then raises) did not
    finish: the repeat acts again.

    A concurrent duplicate blocks on the primary key until the first transaction ends, then
    finds its row (committed) or claims the key itself (rolled back).
    """
    if db.execute(_REMEMBER, {"key": key, "method": method, "fp": fp}).first() is not None:
        return True, None
    row: Any = db.execute(_RECALL, {"key": key, "method": method}).first()
    if row is None:  # deleted between the two statements: act as the first
        return begin(db, key, method, fp)
    if row[0] != fp:
        raise KeyReused(
            f"the {HEADER} {key!r} was used for a different request; use a new key",
            {
                "reason": "idempotency_key_reused",
                "header": HEADER,
                "text": {
                    "vi": f"Khóa {HEADER} này đã được dùng cho một yêu cầu khác; "
                    "hãy dùng một khóa mới.",
                    "en": f"This {HEADER} was already used for a different request; use a new key.",
                },
            },
        )
    if row[1] is None:  # the method committed part of its work, then failed: act again
        return True, None
    return False, kombu_json.loads(row[1])


def finish(db: DbSession, key: str, method: str, result: Any) -> None:
    """Remember the result with the claim (committed with the effect, or not at all)."""
    db.execute(_RESULT, {"key": key, "method": method, "result": kombu_json.dumps(result)})


def _session_of(service: Any) -> DbSession:
    for value in vars(service).values():
        if isinstance(value, DbSession):
            return value
    raise RuntimeError(f"{type(service).__name__} has no Database for idempotent methods")


def _without(result: Any, fields: tuple[str, ...]) -> Any:
    """The result to remember: ``fields`` (secrets shown once) left out of a dict result."""
    if not fields or not isinstance(result, dict):
        return result
    kept = {k: v for k, v in result.items() if k not in fields}
    kept["idempotent_replay_without"] = sorted(set(fields) & set(result))
    return kept


@overload
def idempotent(fn: F) -> F: ...


@overload
def idempotent(
    *, private: tuple[str, ...] = (), secret: tuple[str, ...] = ()
) -> Callable[[F], F]: ...


def idempotent(
    fn: F | None = None, *, private: tuple[str, ...] = (), secret: tuple[str, ...] = ()
) -> Any:
    """Make a creating RPC method act once per request key (under ``@rpc``).

    ``private`` names arguments (a password) left out of the stored fingerprint; ``secret``
    names result fields shown only once (a new API key): not stored, so a repeat answers
    without them and says so in ``idempotent_replay_without``. Without a key (an older caller,
    a CLI) the method acts as before. The result is remembered as the RPC reply serialises it
    (kombu's JSON, dates and UUIDs typed), so a repeat gets the very values the first got.
    """
    if fn is None:
        return functools.partial(idempotent, private=private, secret=secret)
    method = fn.__name__
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = getattr(self, "request_key", None)
        if not isinstance(key, str) or not key:
            return fn(self, *args, **kwargs)
        if private:
            bound = signature.bind_partial(self, *args, **kwargs).arguments
            shown = {k: v for k, v in bound.items() if k != "self" and k not in private}
            fp = fingerprint((), shown)
        else:
            fp = fingerprint(args, kwargs)
        db = _session_of(self)
        first, remembered = begin(db, key, method, fp)
        if not first:
            return remembered
        result = fn(self, *args, **kwargs)
        finish(db, key, method, _without(result, secret))
        return result

    return wrapper


# sweeping -------------------------------------------------------------------------------------

KEEP_DAYS = 7.0  # a request repeated later than this acts again (container config overrides)
SWEEP_EVERY = 3600.0
_SWEEP = text(
    "DELETE FROM idempotent_requests WHERE ctid IN (SELECT ctid FROM idempotent_requests "
    "WHERE created_at < now() - make_interval(secs => :keep) LIMIT :n)"
)


def sweep(engine: Engine, keep_days: float, batch: int = 5000) -> int:
    """Forget remembered requests older than ``keep_days``, a batch per transaction."""
    removed = 0
    while True:
        with engine.begin() as conn:
            count = conn.execute(_SWEEP, {"keep": keep_days * 86400, "n": batch}).rowcount or 0
        removed += count
        if count < batch:
            return removed


class KeySweeper(DependencyProvider):  # type: ignore[misc]
    """Sweeps the service's ``idempotent_requests`` hourly (first after a random minute or so);
    a service without a ``Database`` (the gateway) has nothing to sweep."""

    def setup(self) -> None:
        config = self.container.config
        self.keep_days = float(config.get("DISAN_IDEMPOTENCY_KEEP_DAYS", KEEP_DAYS))
        self.every = float(config.get("DISAN_IDEMPOTENCY_SWEEP_SECONDS", SWEEP_EVERY))
        self._gt: Any = None

    def start(self) -> None:
        if any(isinstance(d, Database) for d in self.container.dependencies):
            self._gt = self.container.spawn_managed_thread(self._loop, identifier="key-sweeper")

    def _loop(self) -> None:
        eventlet.sleep(min(self.every, 60.0 + random.uniform(0, 60)))  # noqa: S311 - jitter
        while True:
            self.run_once()
            eventlet.sleep(self.every)

    def run_once(self) -> int:
        engines = [
            d.engine
            for d in self.container.dependencies
            if isinstance(d, Database) and d.engine is not None
        ]
        removed = 0
        for engine in engines:
            try:
                removed += sweep(engine, self.keep_days)
            except Exception as exc:  # noqa: BLE001 - try again at the next turn
                log.warning("sweeping idempotent_requests failed: %s", exc)
        return removed

    def stop(self) -> None:
        if self._gt is not None:
            self._gt.kill()
            self._gt = None

    kill = stop
