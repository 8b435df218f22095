"""Webhook subscriptions of partners: create, read, pause, resume, delete, test, history.

A subscription belongs to the principal that created it (an API key ``key:ID``, or a user);
only its owner and administrators see or change it. The secret is stored to sign deliveries
and never returned after creation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.notifications import delivery, domain, journal
from services.notifications import repository as repo
from shared import contracts  # noqa: F401 - registers every contract (KNOWN_TYPES)
from shared.db import DbSession
from shared.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from shared.events import Event, registered_contracts
from shared.principals import Principal

STATUSES = ("pending", "delivered", "dead", "cancelled")
# the event types a subscription may ask for: those with a registered contract
KNOWN_TYPES = tuple(sorted({event_type for event_type, _ in registered_contracts()}))
MAX_PER_OWNER = 100


STAFF = frozenset({"admin", "cataloguer", "reviewer"})
PARTNERS = frozenset({"admin", "partner"})


def principal_of(actor: Any, roles: frozenset[str] = PARTNERS | STAFF) -> Principal:
    """The caller, if signed in with one of ``roles`` (the gateway checks too: this is the
    service's own check, for callers inside the platform)."""
    if not isinstance(actor, dict):
        raise BadRequest("actor must be a principal")
    principal = Principal.from_dict(actor)
    if not principal.authenticated:
        raise Forbidden("sign in or use an API key")
    if not roles & principal.roles:
        raise Forbidden(f"this needs one of the roles {', '.join(sorted(roles))}")
    return principal


def _is_admin(principal: Principal) -> bool:
    return "admin" in principal.roles


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"no such {what}") from None


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A subscription as its owner sees it: never the secret."""
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "events": list(row["events"]),
        "filters": row["filters"],
        "contact_email": row["contact_email"],
        "description": row["description"],
        "state": row["state"],
        "paused_reason": row["paused_reason"],
        "consecutive_failures": row["consecutive_failures"],
        "owner": row["owner"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _refused(exc: domain.Refused) -> ValidationFailed:
    return ValidationFailed(str(exc), domain.refusal_details(exc.reason))


def create(
    db: DbSession, principal: Principal, body: Any, settings: domain.WebhookSettings
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body is a JSON object", domain.refusal_details("body"))
    try:
        events = domain.clean_events(body.get("events"), KNOWN_TYPES)
        domain.check_audience(principal, events, KNOWN_TYPES)
        filters = domain.clean_filters(body.get("filters"))
        secret = domain.clean_secret(body.get("secret"))
        contact = body.get("contact_email") or ""
        if contact:
            contact = domain.clean_email(contact)
        target = delivery.check_url(body.get("url"), settings)
    except domain.Refused as exc:
        raise _refused(exc) from None
    description = body.get("description") or ""
    if not isinstance(description, str) or len(description) > 500:
        raise ValidationFailed(
            "description is a text of at most 500 characters",
            domain.refusal_details("description"),
        )
    if len(repo.list_subscriptions(db, principal.subject)) >= MAX_PER_OWNER:
        raise ValidationFailed(
            f"at most {MAX_PER_OWNER} subscriptions per API key",
            domain.refusal_details("too_many"),
        )
    sub_id = str(uuid.uuid4())
    repo.insert_subscription(
        db,
        {
            "id": sub_id,
            "owner": principal.subject,
            "owner_name": principal.name,
            "owner_roles": sorted(principal.roles),
            "owner_expires_at": (
                repo.key_expiry(db, principal.id) if principal.kind == "api_key" else None
            ),
            "url": target.url,
            "events": events,
            "filters": filters,
            "secret": secret,
            "contact_email": contact,
            "description": description,
        },
    )
    row = repo.get_subscription(db, sub_id)
    assert row is not None
    return view(row)


def owned(db: DbSession, principal: Principal, sub_id: Any, lock: bool = False) -> dict[str, Any]:
    """The subscription, if the caller owns it (or is an administrator); 404 otherwise."""
    row = repo.get_subscription(db, _uuid(sub_id, "subscription"), lock)
    if row is None or (row["owner"] != principal.subject and not _is_admin(principal)):
        raise NotFound("no such subscription")
    return row


def listing(db: DbSession, principal: Principal) -> list[dict[str, Any]]:
    owner = None if _is_admin(principal) else principal.subject
    return [view(r) for r in repo.list_subscriptions(db, owner)]


def change_state(db: DbSession, principal: Principal, sub_id: Any, state: str) -> dict[str, Any]:
    row = owned(db, principal, sub_id, lock=True)
    revoked = str(row["paused_reason"]).startswith(domain.REVOKED_PREFIX)
    if state == "active" and revoked and not _is_admin(principal):
        raise Forbidden("paused because its owner lost access: only an administrator resumes it")
    reason = f"paused by {principal.subject}" if state == "paused" else ""
    repo.set_state(db, str(row["id"]), state, reason)
    return view(owned(db, principal, sub_id))


def delete(db: DbSession, principal: Principal, sub_id: Any) -> dict[str, Any]:
    row = owned(db, principal, sub_id, lock=True)
    repo.delete_subscription(db, str(row["id"]))
    return {"id": str(row["id"]), "deleted": True}


def send_test(db: DbSession, principal: Principal, sub_id: Any) -> dict[str, Any]:
    """Queue a signed ``notifications.test`` event to this subscription only."""
    row = owned(db, principal, sub_id)
    event = Event(
        type=domain.TEST_EVENT,
        data={"subscription_id": str(row["id"]), "message": dict(domain.TEST_MESSAGE)},
        producer="notifications",
        actor=principal.subject,
    )
    delivery_id = str(uuid.uuid4())
    repo.insert_test_delivery(db, delivery_id, str(row["id"]), event.to_dict())
    return {"delivery_id": delivery_id, "event_id": event.event_id, "state": row["state"]}


def _delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    out = {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "last_attempt_at": iso(row["last_attempt_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "created_at": iso(row["created_at"]),
        "delivered_at": iso(row["delivered_at"]),
    }
    if "envelope" in row:
        out["envelope"] = row["envelope"]
    return out


def deliveries(
    db: DbSession, principal: Principal, sub_id: Any, params: dict[str, Any]
) -> dict[str, Any]:
    row = owned(db, principal, sub_id)
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationFailed(
            f"status is one of {', '.join(STATUSES)}", domain.refusal_details("status")
        )
    try:
        limit = int(params.get("limit") or 50)
    except ValueError:
        raise ValidationFailed("limit is a number", domain.refusal_details("limit")) from None
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit is between 1 and 200", domain.refusal_details("limit"))
    before = params.get("cursor") or None
    if before is not None:
        try:
            before = str(uuid.UUID(str(before)))
        except ValueError:
            raise ValidationFailed(
                "cursor is the `next` of a previous page", domain.refusal_details("cursor")
            ) from None
    rows = repo.list_deliveries(db, str(row["id"]), status, before, limit)
    return {
        "items": [_delivery_view(r) for r in rows],
        "next": str(rows[-1]["id"]) if len(rows) == limit else None,
    }


def _delivery(db: DbSession, principal: Principal, row: dict[str, Any], delivery_id: Any) -> Any:
    """One delivery of the subscription, if its event may still be told to the subscription's
    owner (administrators: to them) now: a record restricted since it was queued or sent is
    not shown again, nor sent again (ADR 0072)."""
    found = repo.get_delivery(db, str(row["id"]), _uuid(delivery_id, "delivery"))
    if found is None:
        raise NotFound("no such delivery")
    envelope = found["envelope"]
    if envelope.get("type") != domain.TEST_EVENT:
        reader = principal
        if not _is_admin(principal):
            reader = domain.owner_principal(row["owner"], row["owner_roles"])
        telling = journal.Telling(db, str(envelope["type"]), dict(envelope.get("data") or {}))
        if not telling.may_tell(reader):
            raise NotFound("no such delivery")
    return found


def delivery_detail(
    db: DbSession, principal: Principal, sub_id: Any, delivery_id: Any
) -> dict[str, Any]:
    row = owned(db, principal, sub_id)
    found = _delivery(db, principal, row, delivery_id)
    out = _delivery_view(found)
    out["attempt_log"] = [
        {
            "attempt": a["attempt"],
            "at": a["at"].isoformat(),
            "status": a["status"],
            "error": a["error"],
            "duration_ms": a["duration_ms"],
        }
        for a in repo.delivery_attempts(db, str(found["id"]))
    ]
    return out


def redeliver(db: DbSession, principal: Principal, sub_id: Any, delivery_id: Any) -> dict[str, Any]:
    """Send a dead-lettered (or cancelled) delivery again, with a fresh retry window."""
    row = owned(db, principal, sub_id)
    found = _delivery(db, principal, row, delivery_id)
    if found["status"] not in ("dead", "cancelled"):
        raise ValidationFailed(
            "only dead or cancelled deliveries are sent again", domain.refusal_details("not_dead")
        )
    repo.redeliver(db, str(found["id"]))
    return {"id": str(found["id"]), "status": "pending"}
