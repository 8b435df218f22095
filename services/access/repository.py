"""SQL of the access service's own schema. Every function works inside the caller's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from shared.db import DbSession

Row = dict[str, Any]

_USER_COLS = (
    "id::text AS id, username, display_name, password_hash, roles, disabled, "
    "created_at, updated_at, last_login_at"
)
_KEY_COLS = (
    "id::text AS id, prefix, secret_hash, name, roles, scopes, created_by, created_at, "
    "expires_at, revoked_at, last_used_at"
)


def _one(session: DbSession, sql: str, params: dict[str, Any]) -> Row | None:
    row = session.execute(sql, params).mappings().first()
    return dict(row) if row is not None else None


def _all(session: DbSession, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
    return [dict(r) for r in session.execute(sql, params or {}).mappings().all()]


# users -----------------------------------------------------------------------------------------


def insert_user(
    session: DbSession, username: str, password_hash: str, roles: list[str], display_name: str
) -> Row | None:
    """The new user, or None if the (normalised) username is taken."""
    return _one(
        session,
        f"INSERT INTO users (id, username, display_name, password_hash, roles) "
        f"VALUES (:id, :u, :d, :h, :r) ON CONFLICT (username) DO NOTHING RETURNING {_USER_COLS}",
        {"id": str(uuid.uuid4()), "u": username, "d": display_name, "h": password_hash, "r": roles},
    )


def user_by_username(session: DbSession, username: str) -> Row | None:
    return _one(session, f"SELECT {_USER_COLS} FROM users WHERE username = :u", {"u": username})


def user_by_id(session: DbSession, user_id: str, lock: bool = False) -> Row | None:
    try:
        uuid.UUID(user_id)
    except (ValueError, TypeError, AttributeError):
        return None
    suffix = " FOR UPDATE" if lock else ""
    return _one(session, f"SELECT {_USER_COLS} FROM users WHERE id = :id{suffix}", {"id": user_id})


def list_users(session: DbSession) -> list[Row]:
    return _all(session, f"SELECT {_USER_COLS} FROM users ORDER BY username")


def set_user_roles(session: DbSession, user_id: str, roles: list[str]) -> None:
    session.execute(
        "UPDATE users SET roles = :r, updated_at = now() WHERE id = :id",
        {"r": roles, "id": user_id},
    )


def set_password_hash(session: DbSession, user_id: str, password_hash: str) -> None:
    session.execute(
        "UPDATE users SET password_hash = :h, updated_at = now() WHERE id = :id",
        {"h": password_hash, "id": user_id},
    )


def set_user_disabled(session: DbSession, user_id: str, disabled: bool) -> None:
    session.execute(
        "UPDATE users SET disabled = :d, updated_at = now() WHERE id = :id",
        {"d": disabled, "id": user_id},
    )


def touch_login(session: DbSession, user_id: str) -> None:
    session.execute("UPDATE users SET last_login_at = now() WHERE id = :id", {"id": user_id})


def any_admin(session: DbSession) -> bool:
    sql = "SELECT 1 FROM users WHERE 'admin' = ANY(roles) AND NOT disabled LIMIT 1"
    return session.execute(sql).first() is not None


# API keys --------------------------------------------------------------------------------------


def insert_api_key(
    session: DbSession,
    *,
    prefix: str,
    secret_hash: str,
    name: str,
    roles: list[str],
    scopes: list[str],
    created_by: str,
    expires_at: datetime | None,
) -> Row:
    row = _one(
        session,
        "INSERT INTO api_keys (id, prefix, secret_hash, name, roles, scopes, created_by, "
        "expires_at) VALUES (:id, :p, :h, :n, :r, :s, :c, :e) RETURNING " + _KEY_COLS,
        {
            "id": str(uuid.uuid4()),
            "p": prefix,
            "h": secret_hash,
            "n": name,
            "r": roles,
            "s": scopes,
            "c": created_by,
            "e": expires_at,
        },
    )
    assert row is not None
    return row


def api_key_by_prefix(session: DbSession, prefix: str) -> Row | None:
    return _one(session, f"SELECT {_KEY_COLS} FROM api_keys WHERE prefix = :p", {"p": prefix})


def list_api_keys(session: DbSession) -> list[Row]:
    return _all(session, f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_at")


def revoke_api_key(session: DbSession, key_id: str) -> Row | None:
    """The key, revoked now unless it already was; None if there is no such key."""
    try:
        uuid.UUID(key_id)
    except (ValueError, TypeError, AttributeError):
        return None
    return _one(
        session,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id "
        "RETURNING " + _KEY_COLS,
        {"id": key_id},
    )


def touch_api_key(session: DbSession, key_id: str) -> None:
    session.execute("UPDATE api_keys SET last_used_at = now() WHERE id = :id", {"id": key_id})


# refresh tokens --------------------------------------------------------------------------------


def insert_refresh_token(
    session: DbSession, token_hash: str, user_id: str, family: str, expires_at: datetime
) -> None:
    session.execute(
        "INSERT INTO refresh_tokens (id, token_hash, user_id, family, expires_at) "
        "VALUES (:id, :h, :u, :f, :e)",
        {"id": str(uuid.uuid4()), "h": token_hash, "u": user_id, "f": family, "e": expires_at},
    )


def refresh_token_by_hash(session: DbSession, token_hash: str) -> Row | None:
    return _one(
        session,
        "SELECT id::text AS id, user_id::text AS user_id, family::text AS family, expires_at, "
        "used_at, revoked_at FROM refresh_tokens WHERE token_hash = :h FOR UPDATE",
        {"h": token_hash},
    )


def mark_refresh_used(session: DbSession, token_id: str) -> None:
    session.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = :id", {"id": token_id})


def revoke_refresh_family(session: DbSession, family: str) -> None:
    session.execute(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = :f",
        {"f": family},
    )


def revoke_user_refresh_tokens(session: DbSession, user_id: str) -> None:
    session.execute(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) "
        "WHERE user_id = :u AND revoked_at IS NULL",
        {"u": user_id},
    )


# IIIF sessions (the access service's cookie of the IIIF Authorization Flow) ---------------------


def insert_iiif_session(
    session: DbSession, token_hash: str, user_id: str, expires_at: datetime
) -> str:
    session_id = str(uuid.uuid4())
    session.execute(
        "INSERT INTO iiif_sessions (id, token_hash, user_id, expires_at) VALUES (:id, :h, :u, :e)",
        {"id": session_id, "h": token_hash, "u": user_id, "e": expires_at},
    )
    return session_id


def iiif_session_by_hash(session: DbSession, token_hash: str) -> Row | None:
    return _one(
        session,
        "SELECT id::text AS id, user_id::text AS user_id, expires_at, revoked_at "
        "FROM iiif_sessions WHERE token_hash = :h",
        {"h": token_hash},
    )


def add_iiif_session_token(
    session: DbSession, session_id: str, jti: str, expires_at: datetime
) -> None:
    session.execute(
        "INSERT INTO iiif_session_tokens (session_id, jti, expires_at) VALUES (:s, :j, :e) "
        "ON CONFLICT DO NOTHING",
        {"s": session_id, "j": jti, "e": expires_at},
    )


def revoke_iiif_sessions(
    session: DbSession, *, session_id: str | None = None, user_id: str | None = None
) -> list[Row]:
    """Revoke one session (or every session of a user); the unexpired tokens they handed out."""
    where = "id = :s" if session_id is not None else "user_id = :u"
    session.execute(
        f"UPDATE iiif_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE {where}",
        {"s": session_id, "u": user_id},
    )
    return _all(
        session,
        "SELECT t.jti, t.expires_at FROM iiif_session_tokens t JOIN iiif_sessions s "
        f"ON s.id = t.session_id WHERE s.{where} AND t.expires_at > now()",
        {"s": session_id, "u": user_id},
    )


# policies --------------------------------------------------------------------------------------


def get_policy(session: DbSession, kind: str, resource_id: str) -> Row | None:
    return _one(
        session,
        "SELECT resource_kind, resource_id, level, embargo_until, reason, updated_at, updated_by "
        "FROM policies WHERE resource_kind = :k AND resource_id = :id",
        {"k": kind, "id": resource_id},
    )


def upsert_policy(
    session: DbSession,
    kind: str,
    resource_id: str,
    level: str,
    embargo_until: datetime | None,
    reason: str,
    updated_by: str,
) -> None:
    session.execute(
        "INSERT INTO policies (resource_kind, resource_id, level, embargo_until, reason, "
        "updated_by) VALUES (:k, :id, :l, :e, :r, :b) ON CONFLICT (resource_kind, resource_id) "
        "DO UPDATE SET level = EXCLUDED.level, embargo_until = EXCLUDED.embargo_until, "
        "reason = EXCLUDED.reason, updated_by = EXCLUDED.updated_by, updated_at = now()",
        {
            "k": kind,
            "id": resource_id,
            "l": level,
            "e": embargo_until,
            "r": reason,
            "b": updated_by,
        },
    )


# audit -----------------------------------------------------------------------------------------


def apply_asset_record(
    session: DbSession, asset_id: str, record_id: str, deleted: bool, at: datetime
) -> None:
    """Keep which record an asset belongs to (idempotent; an older event changes nothing)."""
    session.execute(
        "INSERT INTO asset_records (asset_id, record_id, deleted, updated_at) "
        "VALUES (:a, :r, :d, :at) ON CONFLICT (asset_id) DO UPDATE SET "
        "record_id = EXCLUDED.record_id, deleted = EXCLUDED.deleted, "
        "updated_at = EXCLUDED.updated_at WHERE asset_records.updated_at <= EXCLUDED.updated_at",
        {"a": asset_id, "r": record_id, "d": deleted, "at": at},
    )


def apply_record_state(
    session: DbSession, record_id: str, state: str, version: int, at: datetime
) -> tuple[str | None, bool]:
    """Keep a record's workflow state (idempotent; an older event changes nothing, and a
    deleted record stays deleted): (the state before, ``None`` if not known; whether this
    event changed it)."""
    before = session.execute(
        "SELECT state FROM record_states WHERE record_id = :r FOR UPDATE", {"r": record_id}
    ).scalar()
    changed = session.execute(
        "INSERT INTO record_states (record_id, state, version, updated_at) "
        "VALUES (:r, :s, :v, :at) ON CONFLICT (record_id) DO UPDATE SET "
        "state = EXCLUDED.state, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at "
        "WHERE record_states.state <> 'deleted' AND (EXCLUDED.state = 'deleted' "
        "OR (EXCLUDED.version, EXCLUDED.updated_at) >= (record_states.version, "
        "record_states.updated_at)) RETURNING state",
        {"r": record_id, "s": state, "v": version, "at": at},
    ).first()
    return (None if before is None else str(before)), changed is not None


def record_of_asset(session: DbSession, asset_id: str) -> Row | None:
    """The record an asset belongs to: its id, its workflow state (``None`` if not known) and
    its policy (``level`` ``None`` if it has none); ``None`` if the asset is not known."""
    return _one(
        session,
        "SELECT a.record_id AS resource_id, s.state, p.level, p.embargo_until, p.reason "
        "FROM asset_records a LEFT JOIN record_states s ON s.record_id = a.record_id "
        "LEFT JOIN policies p ON p.resource_kind = 'record' AND p.resource_id = a.record_id "
        "WHERE a.asset_id = :a",
        {"a": asset_id},
    )


def insert_audit(
    session: DbSession,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    actor: str,
    data: dict[str, Any],
) -> None:
    session.execute(
        "INSERT INTO audit_log (event_id, type, occurred_at, actor, data) "
        "VALUES (:id, :t, :o, :a, CAST(:d AS jsonb)) ON CONFLICT (event_id) DO NOTHING",
        {"id": event_id, "t": event_type, "o": occurred_at, "a": actor, "d": json.dumps(data)},
    )


def list_audit(
    session: DbSession,
    event_type: str | None,
    actor: str | None,
    before: datetime | None,
    limit: int,
) -> list[Row]:
    clauses: list[str] = []
    params: dict[str, Any] = {"n": limit}
    if event_type:
        clauses.append("type = :t")
        params["t"] = event_type
    if actor:
        clauses.append("actor = :a")
        params["a"] = actor
    if before:
        clauses.append("occurred_at < :b")
        params["b"] = before
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return _all(
        session,
        "SELECT event_id::text AS event_id, type, occurred_at, actor, data FROM audit_log "
        f"{where} ORDER BY occurred_at DESC, event_id LIMIT :n",
        params,
    )
