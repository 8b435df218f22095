"""The catalogue's use cases: create, read, edit, move through the workflow, history, restore.

Plain functions over a DbSession and the acting principal, used by the nameko entrypoints, the
importer and the demo loader alike. Every change writes a version and its event in one
transaction; edits compare the version the editor read (optimistic concurrency).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from services.catalogue import domain
from services.catalogue import repository as repo
from shared import record_schemas as schemas
from shared.contracts import catalogue as _contracts  # noqa: F401 - registers the events
from shared.db import DbSession
from shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from shared.events import Event, make_event, make_events
from shared.principals import Principal

PRODUCER = "catalogue"
SYSTEM = Principal(kind="user", id="system", name="system", roles=frozenset({"admin"}))


def now() -> datetime:
    return datetime.now(UTC)


def check_id(record_id: Any) -> str:
    if not isinstance(record_id, str) or not repo.is_uuid(record_id):
        raise NotFound(f"no record {str(record_id)[:64]!r}")
    return str(uuid.UUID(record_id))


def validate(db: DbSession, payload: Any, record_id: str | None = None) -> dict[str, Any]:
    """A record document checked field by field, vocabulary terms and relations included."""
    try:
        doc = schemas.load_record(payload)
    except ValidationError as exc:
        raise ValidationFailed("the record is not valid", exc.messages) from exc
    places = set(domain.PLACE_FIELDS)
    doc, errors = domain.resolve_places(
        doc,
        repo.vocabulary_labels(db, places),
        repo.vocabulary_broader(db, places),
        repo.vocabulary_successors(db),
    )
    refs = domain.vocabulary_refs(doc)
    known = repo.vocabulary_codes(db, {scheme for _, scheme, _ in refs})
    for field, reasons in domain.unknown_terms(doc, known).items():
        errors.setdefault(field, []).extend(reasons)
    targets = sorted({r["target"] for r in doc["relations"]})
    missing = set(targets) - repo.existing_ids(db, targets)
    if record_id in targets:
        errors.setdefault("relations", []).append("a record cannot relate to itself")
    for target in sorted(missing - {record_id}):
        errors.setdefault("relations", []).append(f"no record {target}")
    if errors:
        raise ValidationFailed("the record is not valid", errors)
    return doc


def view(row: dict[str, Any], staff: bool = True) -> dict[str, Any]:
    """A record as clients read it: the document plus identity, state, version and audit."""
    out = {"id": row["id"]} | row["data"]
    out |= {
        "state": row["state"],
        "version": row["version"],
        "has_images": row["has_images"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if staff:
        out |= {
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "access": row["access_level"],
        }
    result: dict[str, Any] = out
    return result


def event_data(row: dict[str, Any], doc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "record_id": row["id"],
        "inventory_number": doc["inventory_number"],
        "heritage_class": doc["heritage_class"],
        "version": row["version"],
        "state": row["state"],
        "title": doc["title"],
    } | extra


def announce(
    db: DbSession,
    event_type: str,
    data: dict[str, Any],
    principal: Principal,
    correlation_id: str | None,
) -> None:
    db.publish(event(event_type, data, principal, correlation_id))


def event(
    event_type: str, data: dict[str, Any], principal: Principal, correlation_id: str | None
) -> Event:
    """A catalogue event, its data checked against the contract."""
    return make_event(
        event_type,
        data,
        producer=PRODUCER,
        actor=_actor(principal),
        correlation_id=correlation_id,
    )


def events(
    event_type: str,
    datas: list[dict[str, Any]],
    principal: Principal,
    correlation_id: str | None,
) -> list[Event]:
    """Many catalogue events of one type (the importer's batches), checked in one pass (the
    contract's plain check, ADR 0044 and ADR 0008)."""
    return make_events(
        event_type,
        datas,
        producer=PRODUCER,
        actor=_actor(principal),
        correlation_id=correlation_id,
    )


def _name(principal: Principal) -> str:
    """Who acted, as staff read it in the history: the principal's name (a username)."""
    return principal.name or principal.subject


def _actor(principal: Principal) -> str:
    system = principal.kind == "user" and principal.id == "system"
    return "system" if system else principal.subject


def _taken(db: DbSession, doc: dict[str, Any], record_id: str) -> None:
    taken = repo.existing_inventory_numbers(db, [doc["inventory_number"]])
    other = taken.get(doc["inventory_number"].lower())
    if other is not None and other != record_id:
        raise Conflict(
            f"inventory number {doc['inventory_number']} is already used by record {other}",
            {"inventory_number": ["already used"], "record_id": other},
        )


def create(
    db: DbSession,
    principal: Principal,
    payload: Any,
    correlation_id: str | None = None,
    record_id: str | None = None,
) -> dict[str, Any]:
    domain.require_editor(principal.roles)
    record_id = record_id or str(uuid.uuid4())
    doc = validate(db, payload, record_id)
    _taken(db, doc, record_id)
    try:
        repo.insert_record(db, record_id, doc, "draft", principal.subject)
    except IntegrityError as exc:
        raise Conflict("the inventory number or id is already used") from exc
    repo.insert_version(
        db, record_id, 1, "created", "draft", doc, "", principal.subject, _name(principal)
    )
    row = repo.get_record(db, record_id)
    assert row is not None
    announce(db, "catalogue.record_created", event_data(row, doc), principal, correlation_id)
    return view(row)


def _visible(row: dict[str, Any] | None, principal: Principal, record_id: str) -> dict[str, Any]:
    """The row if the principal may know it exists (others see only published records)."""
    if row is None or (row["state"] != "published" and not domain.is_staff(principal.roles)):
        raise NotFound(f"no record {record_id}")
    return row


def read(db: DbSession, principal: Principal, record_id: str) -> dict[str, Any]:
    record_id = check_id(record_id)
    row = _visible(repo.get_record(db, record_id), principal, record_id)
    staff = domain.is_staff(principal.roles)
    return view(row, staff) | {"referenced_by": repo.referencing(db, record_id, not staff)}


def _locked(db: DbSession, record_id: str, expected: int | None) -> dict[str, Any]:
    row = repo.get_record(db, check_id(record_id), lock=True)
    if row is None:
        raise NotFound(f"no record {record_id}")
    if expected is not None and row["version"] != expected:
        raise PreconditionFailed(
            f"the record changed: you have version {expected}, it is now at {row['version']}",
            {"current_version": row["version"]},
        )
    return row


def update(
    db: DbSession,
    principal: Principal,
    record_id: str,
    payload: Any,
    expected: int,
    correlation_id: str | None = None,
    comment: str = "",
    restored_from: int | None = None,
) -> dict[str, Any]:
    domain.require_editor(principal.roles)
    row = _locked(db, record_id, expected)
    record_id = row["id"]
    doc = validate(db, payload, record_id)
    _taken(db, doc, record_id)
    changed = domain.changed_fields(row["data"], doc)
    if not changed and restored_from is None:
        return view(row)  # the same content again: no new version, no event (idempotent PUT)
    version = repo.update_record(db, record_id, expected, doc, principal.subject)
    if version is None:  # cannot happen under the row lock, but never overwrite silently
        raise PreconditionFailed("the record changed meanwhile; read it again")
    action = "restored" if restored_from is not None else "updated"
    repo.insert_version(
        db,
        record_id,
        version,
        action,
        row["state"],
        doc,
        comment,
        principal.subject,
        _name(principal),
    )
    new = repo.get_record(db, record_id)
    assert new is not None
    announce(
        db,
        "catalogue.record_updated",
        event_data(new, doc, changed_fields=changed, restored_from=restored_from),
        principal,
        correlation_id,
    )
    return view(new)


def transition(
    db: DbSession,
    principal: Principal,
    record_id: str,
    action: str,
    comment: str,
    expected: int | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    comment = comment if isinstance(comment, str) else ""
    if action in domain.COMMENT_REQUIRED and not comment.strip():
        raise ValidationFailed(
            f"comment is required to {action} a record: say why",
            {"comment": [f"required to {action} a record"]},
        )
    row = _locked(db, record_id, expected)
    new_state = domain.transition(row["state"], action, principal.roles)
    try:
        comment = schemas.clean_text(comment, 2000).strip()
    except ValidationError as exc:
        raise ValidationFailed(f"comment {exc.messages[0]}", {"comment": exc.messages}) from exc
    version = repo.set_state(db, row["id"], row["version"], new_state, principal.subject)
    assert version is not None
    repo.insert_version(
        db,
        row["id"],
        version,
        action,
        new_state,
        row["data"],
        comment,
        principal.subject,
        _name(principal),
    )
    new = repo.get_record(db, row["id"])
    assert new is not None
    event_type = domain.EVENT_OF_STATE.get(new_state, "catalogue.record_updated")
    extra: dict[str, Any] = {"changed_fields": ["state"]}
    if new_state in domain.EVENT_OF_STATE:
        extra = {"comment": comment}
    announce(db, event_type, event_data(new, row["data"], **extra), principal, correlation_id)
    return view(new)


def delete(
    db: DbSession,
    principal: Principal,
    record_id: str,
    expected: int,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    if "admin" not in principal.roles:
        raise Forbidden("only administrators delete records")
    row = _locked(db, record_id, expected)
    if row["state"] == "published":
        raise Conflict("withdraw a published record before deleting it")
    repo.delete_record(db, row["id"], expected)
    repo.insert_version(
        db,
        row["id"],
        row["version"] + 1,
        "deleted",
        row["state"],
        row["data"],
        "",
        principal.subject,
        _name(principal),
    )
    announce(
        db,
        "catalogue.record_deleted",
        event_data(row | {"version": row["version"] + 1}, row["data"]),
        principal,
        correlation_id,
    )
    return {"id": row["id"], "deleted": True}


def history(db: DbSession, principal: Principal, record_id: str) -> list[dict[str, Any]]:
    if not domain.is_staff(principal.roles):
        raise Forbidden("only staff read the history")
    versions = repo.list_versions(db, check_id(record_id))
    if not versions:
        raise NotFound(f"no record {record_id}")
    return [v | {"changed_at": v["changed_at"].isoformat()} for v in versions]


def _version(db: DbSession, record_id: str, version: Any) -> dict[str, Any]:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFound(f"no version {str(version)[:20]!r}") from None
    row = repo.get_version(db, check_id(record_id), number)
    if row is None:
        raise NotFound(f"record {record_id} has no version {number}")
    return row


def _number(value: Any, name: str) -> int | None:
    """A version number given as ``name`` (None or "" when not given); 422 naming it if it is
    not a whole number."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValidationFailed(
            f"{name} must be a version number (1, 2, …), not {str(value)[:20]!r}",
            {name: ["not a version number"]},
        )
    return number


def version(db: DbSession, principal: Principal, record_id: str, number: Any) -> dict[str, Any]:
    if not domain.is_staff(principal.roles):
        raise Forbidden("only staff read old versions")
    row = _version(db, record_id, number)
    return row | {"changed_at": row["changed_at"].isoformat()}


def diff(db: DbSession, principal: Principal, record_id: str, old: Any, new: Any) -> dict[str, Any]:
    if not domain.is_staff(principal.roles):
        raise Forbidden("only staff compare versions")
    record_id = check_id(record_id)
    first, last = _number(old, "from"), _number(new, "to")
    if last is None:
        latest = repo.list_versions(db, record_id)
        if not latest:
            raise NotFound(f"no record {record_id}")
        last = int(latest[0]["version"])
    if first is None:
        first = max(last - 1, 1)
    a, b = _version(db, record_id, first), _version(db, record_id, last)
    return {
        "from": a["version"],
        "to": b["version"],
        "changes": domain.diff(a["data"], b["data"])
        + (
            [{"path": "state", "before": a["state"], "after": b["state"]}]
            if a["state"] != b["state"]
            else []
        ),
    }


def restore(
    db: DbSession,
    principal: Principal,
    record_id: str,
    number: Any,
    expected: int,
    comment: str = "",
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Make an old version's content current again, as a new version (history is kept)."""
    old = _version(db, record_id, number)
    note = comment.strip() if isinstance(comment, str) else ""
    return update(
        db,
        principal,
        record_id,
        old["data"],
        expected,
        correlation_id,
        comment=note or f"restored version {old['version']}",
        restored_from=old["version"],
    )
