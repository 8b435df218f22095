"""The event journal: every domain event once, in arrival order; its queries and the LGSP feed.

Recording an event also fans it out: a pending delivery per matching webhook subscription, and a
mail job when staff should hear of it. All in the handler's transaction, with its claim.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.notifications import domain
from services.notifications import repository as repo
from shared.db import DbSession
from shared.errors import ValidationFailed
from shared.events import Event
from shared.principals import Principal

MAX_PAGE = 500


DistrictOf = Callable[[str], str | None]


def record(db: DbSession, event: Event, district_of: DistrictOf | None = None) -> int:
    """Journal ``event``; queue its deliveries and mail. Returns the deliveries queued.

    ``district_of(record_id)`` is asked (once per event) only when a matching subscription
    filters by district, which no event carries: the record's district from the catalogue.
    """
    record_id, asset_id = domain.subject_ids(event.data)
    if event.type in domain.LGSP_TYPES:
        repo.lock_feed(db)  # numbered in commit order: the feed's cursor skips nothing
    if not repo.append_journal(db, event, record_id, asset_id):
        return 0
    follow_principals(db, event)
    recheck_pending(db, event)
    kind = domain.mail_kind(event.type, event.data)
    if kind is not None:
        repo.add_mail_job(db, kind, event.event_id, event.to_dict())
    if event.type.startswith(domain.OWN_PREFIX):
        return 0
    data = dict(event.data)
    looked_up = False
    telling = Telling(db, event.type, event.data)
    subs = []
    for sub in repo.matching_candidates(db):
        if not domain.type_matches(sub["events"], event.type):
            continue
        expires = sub["owner_expires_at"]
        if expires is not None and telling.now >= expires:
            if not str(sub["paused_reason"]).startswith(domain.REVOKED_PREFIX):
                repo.pause_owner(db, str(sub["owner"]), domain.KEY_EXPIRED)
            continue  # its key no longer opens anything: neither does its subscription
        if not telling.may_tell(domain.owner_principal(sub["owner"], sub["owner_roles"])):
            continue  # what the record route (or the audit log) would refuse this owner
        if "district" in sub["filters"] and "district" not in data:
            if not looked_up:
                looked_up = True
                found = district_of(record_id) if record_id and district_of else None
                if found:
                    data["district"] = found
            if "district" not in data:
                continue  # a district filter admits only events of records known to be there
        if domain.filters_match(sub["filters"], data):
            subs.append(str(sub["id"]))
    return repo.insert_deliveries(db, subs, event.to_dict())


class Telling:
    """Whether the owner of a subscription may be told of one event, decided as the record
    route decides for that owner (ADR 0072); the event's policies and record history are read
    once, for every subscription that asks."""

    def __init__(self, db: DbSession, event_type: str, data: dict[str, Any]) -> None:
        self.db = db
        self.event_type = event_type
        self.record_id, self.asset_id = domain.subject_ids(data)
        self.now = datetime.now(UTC)
        self._policies: domain.Policies | None = None
        self._shown: bool | None = None

    def may_tell(self, reader: Principal) -> bool:
        if not domain.may_hear_of(reader, self.event_type):
            return False  # the audit log's events: administrators only
        if not (self.record_id or self.asset_id):
            return True
        if self._policies is None:
            self._policies = _policies(self.db, _listed(self.record_id), _listed(self.asset_id))
        if not domain.may_see(reader, self.record_id, self.asset_id, self._policies, self.now):
            return False
        if self.record_id and not domain.is_staff(reader):
            if self._shown is None:
                history = repo.record_history(self.db, self.record_id)
                self._shown = domain.record_shown(history)
            return self._shown  # drafts and records in review: 404 on the record route
        return True


def recheck_pending(db: DbSession, event: Event) -> int:
    """When a record's policy or visibility changes, cancel the pending deliveries about it
    that their owner may no longer be told of (queued while it was public). Returns how many."""
    if event.type not in domain.RECORD_ACCESS_EVENTS:
        return 0
    record_id, asset_id = domain.subject_ids(event.data)
    rows = repo.pending_about(db, record_id, asset_id)
    cancel = []
    for row in rows:
        envelope = row["envelope"]
        telling = Telling(db, str(envelope["type"]), dict(envelope["data"]))
        if not telling.may_tell(domain.owner_principal(row["owner"], row["owner_roles"])):
            cancel.append(str(row["id"]))
    return repo.cancel_deliveries(db, cancel)


def follow_principals(db: DbSession, event: Event) -> None:
    """A revoked API key's or a disabled user's subscriptions pause at once (an administrator
    may resume them); a user's new roles are those their deliveries are decided under."""
    data = event.data
    if event.type == "access.api_key_revoked":
        repo.pause_owner(db, f"key:{data['key_id']}", domain.KEY_REVOKED)
    elif event.type == "access.user_disabled" and data.get("disabled"):
        repo.pause_owner(db, f"user:{data['user_id']}", domain.USER_DISABLED)
    elif event.type == "access.user_roles_changed":
        repo.set_owner_roles(db, f"user:{data['user_id']}", list(data.get("roles") or []))


def _listed(value: str | None) -> list[str]:
    return [value] if value else []


def _policies(db: DbSession, record_ids: list[str], asset_ids: list[str]) -> domain.Policies:
    """The current access policies of these records and assets, from the journal's
    ``access.policy_changed`` events (items without one are public)."""
    found = repo.current_policies(db, record_ids, asset_ids)
    return {key: domain.policy_of(data) for key, data in found.items()}


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"{name} is an ISO 8601 time such as 2026-11-27T08:00:00Z",
            domain.refusal_details("time"),
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(
            f"{name} needs a time zone (e.g. Z or +07:00)", domain.refusal_details("time")
        )
    return parsed


def _limit(value: Any, default: int = 100) -> int:
    try:
        limit = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise ValidationFailed("limit is a number", domain.refusal_details("limit")) from None
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit is between 1 and {MAX_PAGE}", domain.refusal_details("limit")
        )
    return limit


def _after(cursor: Any) -> int:
    if cursor in (None, ""):
        return 0
    try:
        return domain.decode_cursor(str(cursor))
    except domain.Refused as exc:
        raise ValidationFailed(str(exc), domain.refusal_details(exc.reason)) from None


def entry(row: dict[str, Any]) -> dict[str, Any]:
    """A journal row as callers see it: the event envelope plus where it sits in the journal."""
    return {
        "seq": int(row["seq"]),
        "event_id": str(row["event_id"]),
        "type": row["type"],
        "version": row["version"],
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
        "producer": row["producer"],
        "actor": row["actor"],
        "correlation_id": row["correlation_id"],
        "record_id": str(row["record_id"]) if row["record_id"] else None,
        "asset_id": str(row["asset_id"]) if row["asset_id"] else None,
        "data": row["data"],
    }


def _page(rows: list[dict[str, Any]], limit: int) -> str | None:
    return domain.encode_cursor(int(rows[-1]["seq"])) if len(rows) == limit else None


def query(db: DbSession, params: dict[str, Any]) -> dict[str, Any]:
    """The journal filtered by type (exact, or ``service.*``), time, record, asset and actor."""
    limit = _limit(params.get("limit"))
    types = [t for t in str(params.get("type") or "").split(",") if t]
    prefix = None
    if len(types) == 1 and types[0].endswith(".*"):
        prefix, types = types[0][:-1], []
    for name in ("record_id", "asset_id"):
        value = params.get(name)
        if value and not _is_uuid(str(value)):
            raise ValidationFailed(f"{name} is a UUID", domain.refusal_details("id"))
    rows = repo.query_journal(
        db,
        types=types or None,
        type_prefix=prefix,
        since=_time(params.get("since"), "since"),
        until=_time(params.get("until"), "until"),
        record_id=params.get("record_id") or None,
        asset_id=params.get("asset_id") or None,
        actor=params.get("actor") or None,
        after=_after(params.get("cursor")),
        limit=limit,
    )
    return {"items": [entry(r) for r in rows], "next": _page(rows, limit)}


def _news(db: DbSession, reader: Principal, event_type: str, record_id: str | None) -> bool:
    """A withdrawal or deletion is shown to those who are not staff only for a record that was
    published (a deleted draft never was theirs to know of)."""
    if event_type not in domain.GONE_TYPES or not record_id or domain.is_staff(reader):
        return True
    return domain.announced_gone(repo.record_history(db, record_id))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def lgsp_changes(
    db: DbSession, params: dict[str, Any], public_url: str, reader: Principal
) -> dict[str, Any]:
    """Records changed since a time (or after a cursor), oldest first, for the city platform.

    Paging follows the journal order (``change_id``), which is the order the changes were
    committed in (``repo.lock_feed``); the cursor of the last page is what a client keeps to ask
    again later, so events that arrive late are never skipped. A change is shown only if
    ``reader`` may read its record now, as ``GET /api/v1/records/{id}`` decides.
    """
    limit = _limit(params.get("limit"))
    after = _after(params.get("cursor"))
    since = _time(params.get("since"), "since")
    if after == 0 and since is None:
        raise ValidationFailed(
            "give since (ISO 8601 time) or cursor (from the previous page)",
            domain.refusal_details("since_or_cursor"),
        )
    changes: list[dict[str, Any]] = []
    last = after
    while len(changes) < limit:
        rows = repo.query_journal(
            db,
            types=list(domain.LGSP_TYPES),
            recorded_since=since if after == 0 else None,
            after=last,
            limit=limit,
        )
        if not rows:
            break
        policies = _policies(db, sorted({str(r["record_id"]) for r in rows if r["record_id"]}), [])
        now = datetime.now(UTC)
        for row in rows:
            last = int(row["seq"])
            record_id = str(row["record_id"]) if row["record_id"] else None
            if (
                domain.lgsp_visible(row["type"], row["data"])
                and domain.may_see(reader, record_id, None, policies, now)
                and _news(db, reader, row["type"], record_id)
            ):
                changes.append(domain.lgsp_change(entry(row), public_url))
                if len(changes) == limit:
                    break
        if len(rows) < limit:
            break
    more = len(changes) == limit
    return {
        "items": changes,
        "cursor": domain.encode_cursor(last) if last else params.get("cursor") or None,
        "has_more": more,
    }
