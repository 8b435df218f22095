"""Use cases on users and API keys, shared by the service's RPCs and the ``disan`` CLI.

Each works inside the caller's transaction and announces what it changed through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import shared.contracts  # noqa: F401 - registers the access.* contracts
from services.access import domain
from services.access import repository as repo
from shared import principals
from shared.db import DbSession
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import make_event

PRODUCER = "access"


class Passwords:
    """argon2id hashing; ``run`` can move the CPU-heavy work off the eventlet hub."""

    def __init__(self, run: Callable[..., Any] | None = None) -> None:
        self.hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self.run = run or (lambda fn, *args: fn(*args))
        self._dummy = self.hasher.hash("not a password of anyone, for equal timing")

    def hash(self, password: str) -> str:
        return str(self.run(self.hasher.hash, password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password; without a hash, spend the same time and say no."""
        try:
            return bool(self.run(self.hasher.verify, password_hash or self._dummy, password)) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return bool(self.hasher.check_needs_rehash(password_hash))


def announce(
    session: DbSession,
    event_type: str,
    data: dict[str, Any],
    actor: str = "system",
    correlation_id: str | None = None,
) -> None:
    """Put an ``access.*`` event in the outbox, in the caller's transaction."""
    session.publish(
        make_event(
            event_type, data, producer=PRODUCER, actor=actor, correlation_id=correlation_id or None
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def user_view(row: repo.Row) -> dict[str, Any]:
    """A user as callers see it: never the password hash."""
    return {
        "id": row["id"],
        "username": row["username"],
        "display_name": row["display_name"],
        "roles": sorted(row["roles"]),
        "disabled": row["disabled"],
        "created_at": _iso(row["created_at"]),
        "last_login_at": _iso(row["last_login_at"]),
    }


def key_view(row: repo.Row, now: datetime | None = None) -> dict[str, Any]:
    """An API key as callers see it: its prefix, never its secret or hash."""
    now = now or datetime.now(UTC)
    expired = row["expires_at"] is not None and row["expires_at"] <= now
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "roles": sorted(row["roles"]),
        "scopes": sorted(row["scopes"]),
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
        "revoked_at": _iso(row["revoked_at"]),
        "last_used_at": _iso(row["last_used_at"]),
        "active": row["revoked_at"] is None and not expired,
    }


def create_user(
    session: DbSession,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    actor: str = "system",
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Create a staff or researcher account; 422 on a bad name/password/role, 409 if taken."""
    try:
        name = domain.normalize_username(username)
        domain.check_password(password, name)
        role_set = domain.check_roles(roles, frozenset(principals.ROLES))
    except domain.AccessError as exc:
        raise ValidationFailed(str(exc)) from exc
    if not isinstance(display_name, str) or len(display_name) > 200:
        raise ValidationFailed("display_name has at most 200 characters")
    row = repo.insert_user(session, name, passwords.hash(password), sorted(role_set), display_name)
    if row is None:
        raise Conflict(f"the username {name!r} is taken")
    announce(
        session,
        "access.user_created",
        {"user_id": row["id"], "username": name, "roles": sorted(role_set)},
        actor,
        correlation_id,
    )
    return user_view(row)


def create_api_key(
    session: DbSession,
    *,
    name: str,
    roles: list[str],
    scopes: list[str],
    expires_at: datetime | None,
    actor: str = "system",
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A new partner API key; the key itself is in the answer and nowhere else, ever."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise ValidationFailed("a key needs a name of 1 to 200 characters")
    try:
        role_set = domain.check_roles(roles, domain.API_KEY_ROLES)
    except domain.AccessError as exc:
        raise ValidationFailed(str(exc)) from exc
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and 0 < len(s) <= 64 for s in scopes
    ):
        raise ValidationFailed("scopes is a list of API tags")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("expires_at is in the past")
    key, prefix = domain.new_api_key()
    row = repo.insert_api_key(
        session,
        prefix=prefix,
        secret_hash=domain.digest(key),
        name=name.strip(),
        roles=sorted(role_set),
        scopes=sorted(set(scopes)),
        created_by=actor,
        expires_at=expires_at,
    )
    announce(
        session,
        "access.api_key_created",
        {
            "key_id": row["id"],
            "name": row["name"],
            "prefix": prefix,
            "roles": row["roles"],
            "scopes": row["scopes"],
            "expires_at": _iso(expires_at),
        },
        actor,
        correlation_id,
    )
    return key_view(row) | {"key": key}


def revoke_api_key(
    session: DbSession, key_id: str, actor: str = "system", correlation_id: str | None = None
) -> dict[str, Any]:
    row = repo.revoke_api_key(session, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    announce(
        session,
        "access.api_key_revoked",
        {"key_id": row["id"], "name": row["name"]},
        actor,
        correlation_id,
    )
    return key_view(row)


def list_api_keys(session: DbSession) -> list[dict[str, Any]]:
    return [key_view(r) for r in repo.list_api_keys(session)]
