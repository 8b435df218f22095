"""SQL of the notifications service (its own schema): journal, subscriptions, deliveries, mail.

Functions take a ``DbSession`` (workers, RPCs) or a SQLAlchemy ``Connection`` (the delivery
loop, which runs outside nameko workers); both have ``execute(text, params)`` semantics through
``_run``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from shared.db import DbSession
from shared.events import Event

Row = dict[str, Any]
Db = DbSession | Connection


def _run(db: Db, sql: str, params: dict[str, Any] | None = None) -> Any:
    if isinstance(db, DbSession):
        return db.execute(sql, params)
    return db.execute(text(sql), params or {})


def _where(criteria: list[tuple[str, str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """The SQL conditions and parameters of the criteria given (None or empty: left out)."""
    given = [
        (clause, name, value) for clause, name, value in criteria if value not in (None, [], "")
    ]
    return [c for c, _, _ in given], {name: value for _, name, value in given}


def _rows(result: Any) -> list[Row]:
    return [dict(r._mapping) for r in result]


# journal ---------------------------------------------------------------------------------------

_JOURNAL = (
    "seq, event_id, type, version, occurred_at, recorded_at, producer, actor, correlation_id, "
    "record_id, asset_id, data"
)


def append_journal(db: Db, event: Event, record_id: str | None, asset_id: str | None) -> bool:
    """Append one event; False if it is already there (a redelivery under another claim)."""
    row = _run(
        db,
        "INSERT INTO journal (event_id, type, version, occurred_at, producer, actor, "
        "correlation_id, record_id, asset_id, data) VALUES (:event_id, :type, :version, "
        ":occurred_at, :producer, :actor, :correlation_id, :record_id, :asset_id, "
        "CAST(:data AS jsonb)) ON CONFLICT (event_id) DO NOTHING RETURNING seq",
        {
            "event_id": event.event_id,
            "type": event.type,
            "version": event.version,
            "occurred_at": event.occurred_at,
            "producer": event.producer,
            "actor": event.actor,
            "correlation_id": event.correlation_id,
            "record_id": record_id,
            "asset_id": asset_id,
            "data": json.dumps(event.data, ensure_ascii=False),
        },
    ).first()
    return row is not None


# one key for the whole schema's feed lock (with the schema's hash as the second half)
FEED_LOCK = 0x1F0070


def lock_feed(db: Db) -> None:
    """Hold the LGSP feed's lock until this transaction ends, before journaling a change the
    feed shows: such changes are then numbered (``seq``) in the order they commit, so a cursor
    never passes a change that commits later (the lock Change Discovery takes, ADR 0060)."""
    _run(
        db,
        "SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))",
        {"key": FEED_LOCK},
    )


def current_policies(
    db: Db, record_ids: list[str], asset_ids: list[str]
) -> dict[tuple[str, str], Row]:
    """The newest ``access.policy_changed`` data (by ``occurred_at``, as the access service's
    projections order them) of each record and asset given, from the journal."""
    if not record_ids and not asset_ids:
        return {}
    rows = _run(
        db,
        "SELECT DISTINCT ON (data->>'resource_kind', data->>'resource_id') data FROM journal "
        "WHERE type = 'access.policy_changed' AND ("
        "(record_id = ANY(CAST(:records AS uuid[])) AND data->>'resource_kind' = 'record') OR "
        "(asset_id = ANY(CAST(:assets AS uuid[])) AND data->>'resource_kind' = 'asset')) "
        "ORDER BY data->>'resource_kind', data->>'resource_id', occurred_at DESC, seq DESC",
        {"records": record_ids, "assets": asset_ids},
    )
    found: dict[tuple[str, str], Row] = {}
    for (data,) in rows:
        found[(str(data["resource_kind"]), str(data["resource_id"]))] = data
    return found


def record_history(db: Db, record_id: str) -> list[tuple[str, str | None]]:
    """The record's catalogue events in the journal: ``(type, state)``, oldest version first."""
    rows = _run(
        db,
        "SELECT type, data->>'state' FROM journal WHERE record_id = CAST(:r AS uuid) "
        "AND starts_with(type, 'catalogue.record_') "
        "ORDER BY (data->>'version')::int NULLS FIRST, seq",
        {"r": record_id},
    )
    return [(str(t), str(state) if state is not None else None) for t, state in rows]


def query_journal(
    db: Db,
    *,
    types: list[str] | None = None,
    type_prefix: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    record_id: str | None = None,
    asset_id: str | None = None,
    actor: str | None = None,
    after: int = 0,
    limit: int = 100,
    recorded_since: datetime | None = None,
) -> list[Row]:
    """Journal rows matching every given criterion, in journal order (``seq``)."""
    where, params = _where(
        [
            ("seq > :after", "after", after),
            ("type = ANY(:types)", "types", types),
            ("starts_with(type, :prefix)", "prefix", type_prefix),
            ("occurred_at >= :since", "since", since),
            ("occurred_at < :until", "until", until),
            ("recorded_at >= :recorded_since", "recorded_since", recorded_since),
            # the record's events and its assets' (an asset's policy change names only the
            # asset: the journal knows the asset's record from the asset's other events);
            # ANY(ARRAY(...)) keeps both sides on their indexes (IN (...) scans the journal)
            (
                "(record_id = CAST(:record_id AS uuid) OR asset_id = ANY(ARRAY(SELECT j.asset_id "
                "FROM journal j WHERE j.record_id = CAST(:record_id AS uuid) "
                "AND j.asset_id IS NOT NULL)))",
                "record_id",
                record_id,
            ),
            ("asset_id = CAST(:asset_id AS uuid)", "asset_id", asset_id),
            ("actor = :actor", "actor", actor),
        ]
    )
    params["limit"] = limit
    sql = f"SELECT {_JOURNAL} FROM journal WHERE {' AND '.join(where)} ORDER BY seq LIMIT :limit"
    return _rows(_run(db, sql, params))


# subscriptions ---------------------------------------------------------------------------------

_SUB = (
    "id, owner, owner_name, url, events, filters, contact_email, description, state, "
    "paused_reason, consecutive_failures, created_at, updated_at, owner_roles"
)


def insert_subscription(db: Db, row: Row) -> None:
    _run(
        db,
        "INSERT INTO subscriptions (id, owner, owner_name, owner_roles, owner_expires_at, url, "
        "events, filters, secret, contact_email, description) VALUES (:id, :owner, :owner_name, "
        ":owner_roles, :owner_expires_at, :url, :events, CAST(:filters AS jsonb), :secret, "
        ":contact_email, :description)",
        row | {"filters": json.dumps(row["filters"])},
    )


def get_subscription(db: Db, sub_id: str, lock: bool = False) -> Row | None:
    sql = f"SELECT {_SUB}, secret FROM subscriptions WHERE id = :id AND deleted_at IS NULL"
    rows = _rows(_run(db, sql + (" FOR UPDATE" if lock else ""), {"id": sub_id}))
    return rows[0] if rows else None


def list_subscriptions(db: Db, owner: str | None) -> list[Row]:
    sql = f"SELECT {_SUB} FROM subscriptions WHERE deleted_at IS NULL"
    params: dict[str, Any] = {}
    if owner is not None:
        sql += " AND owner = :owner"
        params["owner"] = owner
    return _rows(_run(db, sql + " ORDER BY created_at, id", params))


def matching_candidates(db: Db) -> list[Row]:
    """Live subscriptions (active or paused: a paused one keeps its events for its resume)."""
    return _rows(
        _run(
            db,
            "SELECT id, events, filters, owner, owner_roles, owner_expires_at, state, "
            "paused_reason FROM subscriptions WHERE deleted_at IS NULL",
        )
    )


def pending_about(db: Db, record_id: str | None, asset_id: str | None) -> list[Row]:
    """Pending deliveries of events about this record or asset, with their owner."""
    if not record_id and not asset_id:
        return []
    return _rows(
        _run(
            db,
            "SELECT d.id, d.envelope, s.owner, s.owner_roles FROM deliveries d "
            "JOIN subscriptions s ON s.id = d.subscription_id WHERE d.status = 'pending' AND ("
            "d.envelope->'data'->>'record_id' = :record "
            "OR d.envelope->'data'->>'asset_id' = :asset "
            "OR d.envelope->'data'->>'resource_id' IN (:record, :asset))",
            {"record": record_id or "", "asset": asset_id or ""},
        )
    )


def cancel_deliveries(db: Db, ids: list[str]) -> int:
    if not ids:
        return 0
    result = _run(
        db,
        "UPDATE deliveries SET status = 'cancelled' WHERE id = ANY(CAST(:ids AS uuid[])) "
        "AND status = 'pending'",
        {"ids": ids},
    )
    return int(result.rowcount or 0)


def key_expiry(db: Db, key_id: str) -> datetime | None:
    """When an API key expires, from its ``access.api_key_created`` event (None: never, or the
    journal has not seen it)."""
    row = _run(
        db,
        "SELECT data->>'expires_at' FROM journal WHERE type = 'access.api_key_created' "
        "AND data->>'key_id' = :key ORDER BY seq DESC LIMIT 1",
        {"key": key_id},
    ).first()
    return datetime.fromisoformat(row[0]) if row is not None and row[0] else None


def pause_owner(db: Db, owner: str, reason: str) -> int:
    """Pause every live subscription of ``owner`` (``key:ID``, ``user:ID``) with ``reason``."""
    result = _run(
        db,
        "UPDATE subscriptions SET state = 'paused', paused_reason = :reason, updated_at = now(), "
        "pause_announced = true WHERE owner = :owner AND deleted_at IS NULL",
        {"owner": owner, "reason": reason},
    )
    return int(result.rowcount or 0)


def set_owner_roles(db: Db, owner: str, roles: list[str]) -> None:
    """The roles a user's subscriptions deliver under, after the user's roles changed."""
    _run(
        db,
        "UPDATE subscriptions SET owner_roles = :roles, updated_at = now() "
        "WHERE owner = :owner AND deleted_at IS NULL",
        {"owner": owner, "roles": sorted(roles)},
    )


def set_state(db: Db, sub_id: str, state: str, reason: str = "") -> None:
    _run(
        db,
        "UPDATE subscriptions SET state = :state, paused_reason = :reason, updated_at = now(), "
        "consecutive_failures = CASE WHEN :state = 'active' THEN 0 ELSE consecutive_failures END, "
        "pause_announced = (:state <> 'active') "
        "WHERE id = :id",
        {"id": sub_id, "state": state, "reason": reason},
    )


def delete_subscription(db: Db, sub_id: str) -> None:
    _run(
        db,
        "UPDATE subscriptions SET deleted_at = now(), updated_at = now() WHERE id = :id",
        {"id": sub_id},
    )
    _run(
        db,
        "UPDATE deliveries SET status = 'cancelled' WHERE subscription_id = :id "
        "AND status = 'pending'",
        {"id": sub_id},
    )


# deliveries ------------------------------------------------------------------------------------

_DELIVERY = (
    "id, subscription_id, event_id, event_type, status, attempts, next_attempt_at, last_status, "
    "last_error, last_attempt_at, created_at, delivered_at"
)


def insert_deliveries(db: Db, subscription_ids: list[str], envelope: dict[str, Any]) -> int:
    if not subscription_ids:
        return 0
    result = _run(
        db,
        "INSERT INTO deliveries (id, subscription_id, event_id, event_type, envelope) "
        "SELECT gen_random_uuid(), s, CAST(:event_id AS uuid), :type, CAST(:envelope AS jsonb) "
        "FROM unnest(CAST(:subs AS uuid[])) AS s "
        "ON CONFLICT (subscription_id, event_id) DO NOTHING",
        {
            "subs": subscription_ids,
            "event_id": envelope["event_id"],
            "type": envelope["type"],
            "envelope": json.dumps(envelope, ensure_ascii=False),
        },
    )
    return int(result.rowcount or 0)


def insert_test_delivery(db: Db, delivery_id: str, sub_id: str, envelope: dict[str, Any]) -> None:
    _run(
        db,
        "INSERT INTO deliveries (id, subscription_id, event_id, event_type, envelope) "
        "VALUES (:id, :sub, :event_id, :type, CAST(:envelope AS jsonb))",
        {
            "id": delivery_id,
            "sub": sub_id,
            "event_id": envelope["event_id"],
            "type": envelope["type"],
            "envelope": json.dumps(envelope, ensure_ascii=False),
        },
    )


def list_deliveries(
    db: Db, sub_id: str, status: str | None, before: str | None, limit: int
) -> list[Row]:
    where, params = _where(
        [
            ("subscription_id = :sub", "sub", sub_id),
            ("status = :status", "status", status),
            (
                "(created_at, id) < (SELECT created_at, id FROM deliveries WHERE id = :b)",
                "b",
                before,
            ),
        ]
    )
    params["limit"] = limit
    sql = (
        f"SELECT {_DELIVERY} FROM deliveries WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
    return _rows(_run(db, sql, params))


def get_delivery(db: Db, sub_id: str, delivery_id: str) -> Row | None:
    rows = _rows(
        _run(
            db,
            f"SELECT {_DELIVERY}, envelope FROM deliveries WHERE id = :id AND subscription_id = :s",
            {"id": delivery_id, "s": sub_id},
        )
    )
    return rows[0] if rows else None


def delivery_attempts(db: Db, delivery_id: str) -> list[Row]:
    return _rows(
        _run(
            db,
            "SELECT attempt, at, status, error, duration_ms FROM delivery_attempts "
            "WHERE delivery_id = :id ORDER BY attempt",
            {"id": delivery_id},
        )
    )


def redeliver(db: Db, delivery_id: str) -> None:
    _run(
        db,
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), created_at = now() "
        "WHERE id = :id",
        {"id": delivery_id},
    )


_CLAIM = """
WITH ranked AS (
    SELECT d.id, d.next_attempt_at,
           row_number() OVER (PARTITION BY d.subscription_id ORDER BY d.next_attempt_at) AS rn,
           COALESCE(CAST(CAST(:room AS jsonb) ->> CAST(d.subscription_id AS text) AS integer),
                    :per_sub) AS room
    FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND s.state = 'active' AND s.deleted_at IS NULL
), chosen AS (
    SELECT d.id FROM deliveries d
    WHERE d.id IN (SELECT id FROM ranked WHERE rn <= room ORDER BY next_attempt_at LIMIT :n)
      AND d.status = 'pending'
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d SET next_attempt_at = now() + make_interval(secs => :lease),
                        attempts = d.attempts + 1
FROM chosen, subscriptions s
WHERE d.id = chosen.id AND s.id = d.subscription_id
RETURNING d.id, d.subscription_id, d.event_id, d.envelope, d.attempts, d.created_at,
          s.url, s.secret
"""


def claim_due(
    conn: Connection, n: int, per_sub: int, room: dict[str, int], lease: float
) -> list[Row]:
    """Lease up to ``n`` due deliveries of active subscriptions, at most ``room`` more per
    subscription (``per_sub`` for those not listed); committed by the caller.

    Each lease counts an attempt (``attempts`` is the number of the attempt leased), before
    anything is sent: a worker that dies after sending and before recording the outcome still
    counted it, so the next attempt says ``X-Disan-Attempt: 2`` (ADR 0071)."""
    params = {"n": n, "per_sub": per_sub, "room": json.dumps(room), "lease": lease}
    return _rows(conn.execute(text(_CLAIM), params))


_RESULTS = """
WITH r AS (
    SELECT * FROM jsonb_to_recordset(CAST(:results AS jsonb)) AS x(
        id uuid, attempt integer, ok boolean, dead boolean, status integer, error text,
        ms integer, next timestamptz)
), upd AS (
    UPDATE deliveries d SET
        last_attempt_at = now(),
        last_status = r.status,
        last_error = r.error,
        status = CASE WHEN r.ok THEN 'delivered' WHEN r.dead THEN 'dead' ELSE d.status END,
        delivered_at = CASE WHEN r.ok THEN now() ELSE d.delivered_at END,
        next_attempt_at = COALESCE(r.next, d.next_attempt_at)
    FROM r WHERE d.id = r.id AND d.status = 'pending'
    RETURNING d.id, d.subscription_id, d.event_id, d.event_type, d.attempts, r.attempt, r.ok,
              r.dead, r.status, r.error, r.ms
), log AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, status, error, duration_ms)
    SELECT id, attempt, status, error, ms FROM upd
), per_sub AS (
    SELECT subscription_id, bool_or(ok) AS any_ok, count(*) FILTER (WHERE NOT ok) AS failed,
           max(error) FILTER (WHERE NOT ok) AS error
    FROM upd GROUP BY subscription_id
), subs AS (
    UPDATE subscriptions s SET
        consecutive_failures = CASE WHEN p.any_ok THEN 0
                                    ELSE s.consecutive_failures + p.failed END,
        state = CASE WHEN NOT p.any_ok AND s.state = 'active'
                      AND s.consecutive_failures + p.failed >= :pause_after
                     THEN 'paused' ELSE s.state END,
        paused_reason = CASE WHEN NOT p.any_ok AND s.state = 'active'
                              AND s.consecutive_failures + p.failed >= :pause_after
                             THEN COALESCE(p.error, '') ELSE s.paused_reason END,
        updated_at = now()
    FROM per_sub p WHERE s.id = p.subscription_id
    RETURNING s.id, s.owner, s.state, s.consecutive_failures, s.paused_reason
)
SELECT 'delivery' AS kind, CAST(id AS text) AS id, CAST(subscription_id AS text) AS sub,
       CAST(event_id AS text) AS event_id, event_type, attempts, dead, error, '' AS owner
FROM upd WHERE dead
UNION ALL
SELECT 'paused', CAST(id AS text), CAST(id AS text), NULL, NULL, consecutive_failures, NULL,
       paused_reason, owner
FROM subs WHERE state = 'paused'
"""


def record_results(conn: Connection, results: list[Row], pause_after: int) -> list[Row]:
    """Write a batch of attempt outcomes in one statement; returns the deliveries that went
    dead and the subscriptions that are paused now (the caller announces the new ones)."""
    rows = conn.execute(
        text(_RESULTS),
        {"results": json.dumps(results, default=str), "pause_after": pause_after},
    )
    return _rows(rows)


def claim_pause_announcement(conn: Connection, sub_id: str) -> bool:
    """True once per pause of a subscription: who announces it (replicas, later batches)."""
    row = conn.execute(
        text(
            "UPDATE subscriptions SET pause_announced = true WHERE id = :id "
            "AND state = 'paused' AND NOT pause_announced RETURNING 1"
        ),
        {"id": sub_id},
    ).first()
    return row is not None


# e-mail ----------------------------------------------------------------------------------------


def add_mail_job(db: Db, kind: str, event_id: str | None, data: dict[str, Any]) -> None:
    _run(
        db,
        "INSERT INTO mail_jobs (kind, event_id, data) VALUES (:kind, :event_id, "
        "CAST(:data AS jsonb)) ON CONFLICT (kind, event_id) DO NOTHING",
        {"kind": kind, "event_id": event_id, "data": json.dumps(data, ensure_ascii=False)},
    )


def last_mail_job(db: Db, kind: str) -> datetime | None:
    row = _run(db, "SELECT max(created_at) FROM mail_jobs WHERE kind = :k", {"k": kind}).first()
    return row[0] if row else None


def pending_mail_jobs(db: Db, limit: int) -> list[Row]:
    return _rows(
        _run(
            db,
            "SELECT id, kind, event_id, data, attempts FROM mail_jobs WHERE done_at IS NULL "
            "AND attempts < 10 ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED",
            {"n": limit},
        )
    )


def finish_mail_job(db: Db, job_id: int, error: str = "") -> None:
    _run(
        db,
        "UPDATE mail_jobs SET attempts = attempts + 1, last_error = :e, "
        "done_at = CASE WHEN :e = '' THEN now() ELSE NULL END WHERE id = :id",
        {"id": job_id, "e": error},
    )


def add_email(db: Db, row: Row) -> None:
    _run(
        db,
        "INSERT INTO emails (job_id, kind, recipient, user_id, language, subject, body, status) "
        "VALUES (:job_id, :kind, :recipient, :user_id, :language, :subject, :body, :status) "
        "ON CONFLICT (job_id, recipient) DO NOTHING",
        row,
    )


def pending_emails(db: Db, limit: int) -> list[Row]:
    return _rows(
        _run(
            db,
            "SELECT id, recipient, language, subject, body, attempts FROM emails "
            "WHERE status = 'pending' ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED",
            {"n": limit},
        )
    )


def mark_email(db: Db, email_id: int, error: str | None, max_attempts: int = 5) -> None:
    _run(
        db,
        "UPDATE emails SET attempts = attempts + 1, last_error = COALESCE(:e, ''), "
        "sent_at = CASE WHEN :e IS NULL THEN now() ELSE sent_at END, "
        "status = CASE WHEN :e IS NULL THEN 'sent' WHEN attempts + 1 >= :max THEN 'failed' "
        "ELSE status END WHERE id = :id",
        {"id": email_id, "e": error, "max": max_attempts},
    )


def held_emails(db: Db) -> list[Row]:
    return _rows(
        _run(
            db,
            "SELECT id, recipient, user_id, language, subject, created_at FROM emails "
            "WHERE status = 'held' ORDER BY recipient, id FOR UPDATE SKIP LOCKED",
        )
    )


def mark_digested(db: Db, ids: list[int]) -> None:
    _run(db, "UPDATE emails SET status = 'digested' WHERE id = ANY(:ids)", {"ids": ids})


def emails_sent(db: Db, recipient: str | None, limit: int) -> list[Row]:
    sql = "SELECT id, kind, recipient, language, subject, status, created_at, sent_at FROM emails"
    params: dict[str, Any] = {"n": limit}
    if recipient:
        sql += " WHERE recipient = :r"
        params["r"] = recipient
    return _rows(_run(db, sql + " ORDER BY id DESC LIMIT :n", params))


def get_preferences(db: Db, user_id: str) -> Row | None:
    rows = _rows(
        _run(
            db,
            "SELECT user_id, username, email, language, digest, enabled, updated_at "
            "FROM email_preferences WHERE user_id = :u",
            {"u": user_id},
        )
    )
    return rows[0] if rows else None


def all_preferences(db: Db) -> dict[str, Row]:
    rows = _rows(
        _run(
            db,
            "SELECT user_id, username, email, language, digest, enabled FROM email_preferences "
            "WHERE enabled",
        )
    )
    return {r["user_id"]: r for r in rows}


def set_preferences(db: Db, row: Row) -> None:
    _run(
        db,
        "INSERT INTO email_preferences (user_id, username, email, language, digest, enabled) "
        "VALUES (:user_id, :username, :email, :language, :digest, :enabled) "
        "ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username, "
        "email = EXCLUDED.email, language = EXCLUDED.language, digest = EXCLUDED.digest, "
        "enabled = EXCLUDED.enabled, updated_at = now()",
        row,
    )
