"""The access service: users, roles, partner API keys, tokens, item policies, the audit log.

RPC only (the gateway is its HTTP front). Callers pass the acting principal as a dict; every
change is re-checked with ``authorize`` here too, so a caller's mistake cannot escalate anyone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from services.access import accounts, domain
from services.access import repository as repo
from services.access.dependencies import FirstAdmin, PasswordHashing
from shared import principals
from shared.auth import RedisStore, issue_access_token, revoked_token_key, user_revision_key
from shared.consumer import reliable_handler
from shared.contracts.catalogue import RECORD_EVENTS
from shared.db import Database
from shared.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from shared.events import Event
from shared.idempotency import idempotent
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.service import DisanService

log = logging.getLogger(__name__)

MAX_USERNAME_INPUT = 256
# a source (address) may fail this many times the account threshold in one lockout window
SOURCE_LOCKOUT_FACTOR = 10

# One login attempt counted in one step: the window starts at the first attempt and is never
# extended, so a lock ends lockout_seconds after it began however long the guessing goes on.
_COUNT_ATTEMPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""
# A successful attempt given back to its source's count (unless the window has ended).
_RELEASE_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""

F = TypeVar("F", bound=Callable[..., Any])


def _now() -> datetime:
    return datetime.now(UTC)


def _principal(actor: Any) -> principals.Principal:
    if not isinstance(actor, dict):
        raise BadRequest("actor must be a principal")
    return principals.Principal.from_dict(actor)


def _require(decision: principals.Decision) -> None:
    if not decision.allowed:
        raise (Unauthorized if decision.status == 401 else Forbidden)(decision.reason)


def _parse_time(value: Any, field: str) -> datetime | None:
    """An aware datetime from ISO 8601 (a bare date means 00:00 UTC that day)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationFailed(f"{field} must be an ISO 8601 date or date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(f"{field} must be an ISO 8601 date or date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _uuid(value: Any, field: str) -> str:
    """A record or asset id in canonical form: every id of the platform is a UUID, and the
    ``access.policy_changed`` contract (and the journal after it) takes nothing else."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ValidationFailed(f"{field} is a UUID")


def _printable(text: str) -> str:
    """Hostile input made safe to keep in an audit record (no NULs or control characters)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _policy(row: repo.Row | None) -> principals.Policy | None:
    return (
        None
        if row is None
        else principals.Policy(row["level"], row["embargo_until"], row["reason"])
    )


def policy_view(
    kind: str, resource_id: str, row: repo.Row | None, record: repo.Row | None = None
) -> dict[str, Any]:
    """The policy answer; an asset without a policy of its own shows what it has from its
    record (``record``: its id, workflow state and policy) with ``inherited_from`` naming that
    record (``None`` otherwise)."""
    state = record.get("state") if record is not None else None
    record_policy = _policy(record) if record is not None and record["level"] else None
    policy, inherited = principals.asset_policy(
        _policy(row), record_policy, None if state is None else state == "published"
    )
    return {
        "resource_kind": kind,
        "resource_id": resource_id,
        "level": policy.level,
        "embargo_until": policy.embargo_until.isoformat() if policy.embargo_until else None,
        "reason": policy.reason,
        "inherited_from": (
            {"resource_kind": "record", "resource_id": record["resource_id"]}
            if inherited and record is not None
            else None
        ),
    }


class AccessService(DisanService):
    name = "access"

    db = Database("access")
    relay = OutboxRelay("access")
    redis = RedisStore()
    passwords = PasswordHashing()
    first_admin = FirstAdmin()

    # helpers -------------------------------------------------------------------------------
    def _announce(self, event_type: str, data: dict[str, Any], actor: str = "system") -> None:
        accounts.announce(self.db, event_type, data, actor, self.correlation or None)

    def _issue(self, user: repo.Row, family: str | None = None) -> dict[str, Any]:
        conf = self.settings.access
        keys = conf.signing_keys()
        token, _claims = issue_access_token(
            keys,
            conf.token_kid,
            subject=user["id"],
            username=user["username"],
            roles=user["roles"],
            ttl_seconds=conf.token_ttl_seconds,
        )
        refresh = domain.new_refresh_token()
        repo.insert_refresh_token(
            self.db,
            domain.digest(refresh),
            user["id"],
            family or str(uuid.uuid4()),
            _now() + timedelta(seconds=conf.refresh_ttl_seconds),
        )
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": conf.token_ttl_seconds,
            "refresh_token": refresh,
            "refresh_expires_in": conf.refresh_ttl_seconds,
        }

    def _end_sessions(self, user_id: str) -> None:
        """Refuse the user's existing tokens from now on (refresh tokens and access tokens)."""
        repo.revoke_user_refresh_tokens(self.db, user_id)
        repo.revoke_iiif_sessions(self.db, user_id=user_id)  # their tokens: by the revision
        self.redis.set(
            user_revision_key(self.settings.access.redis_prefix, user_id),
            int(_now().timestamp() * 1000),
            ex=self.settings.access.token_ttl_seconds + 60,
        )

    def _claim_attempt(self, account: str, ip: str, shown: str) -> tuple[str, str, int]:
        """Count a login attempt against its account and its source before the password is
        checked (one atomic step each), so parallel guesses cannot all pass a counter read
        before any of them failed; 429 once either is over its limit (ADR 0036).

        Returns the account's and the source's keys and this attempt's number on the account.
        """
        conf = self.settings.access
        prefix = f"{conf.redis_prefix}auth:"
        source = f"{prefix}src:{domain.digest(ip or '-')[:40]}"
        account_key = f"{prefix}fail:{domain.digest(account)[:40]}"
        limits = (
            (source, conf.lockout_threshold * SOURCE_LOCKOUT_FACTOR),
            (account_key, conf.lockout_threshold),
        )
        count = 0
        for key, limit in limits:
            count, ttl = (
                int(v) for v in self.redis.eval(_COUNT_ATTEMPT, 1, key, conf.lockout_seconds)
            )
            if count > limit:
                wait = max(ttl, 1)
                self._announce(
                    "access.login_failed", {"username": shown, "ip": ip, "reason": "locked out"}
                )
                self.db.commit()
                raise RateLimited(
                    f"too many failed logins; try again in {wait} s", {"retry_after": wait}
                )
        return account_key, source, count

    def _failed(self, user: repo.Row | None, shown: str, ip: str, attempt: int) -> NoReturn:
        """Record a failed login (audited, the account locked at the threshold); always 401."""
        conf = self.settings.access
        reason = "unknown user" if user is None else "wrong password"
        if user is not None and user["disabled"]:
            reason = "account disabled"
        self._announce("access.login_failed", {"username": shown, "ip": ip, "reason": reason})
        if attempt == conf.lockout_threshold:
            self._announce(
                "access.user_locked",
                {"username": shown, "ip": ip, "seconds": conf.lockout_seconds},
            )
        self.db.commit()  # the failure is recorded even though this call fails
        raise Unauthorized("invalid username or password")

    # sign in and out -----------------------------------------------------------------------
    @rpc
    def login(self, username: Any, password: Any, ip: str = "") -> dict[str, Any]:
        """Tokens for a valid username and password; 401 otherwise, 429 while locked out."""
        return self._issue(self._sign_in(username, password, ip))

    def _sign_in(self, username: Any, password: Any, ip: str) -> repo.Row:
        """The user of a valid username and password (lockout, audit); 401/429 otherwise."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise Unauthorized("invalid username or password")
        if len(username) > MAX_USERNAME_INPUT or len(password) > domain.PASSWORD_MAX:
            raise Unauthorized("invalid username or password")
        try:
            name = domain.normalize_username(username)
        except domain.InvalidUsername:
            name = ""
        shown = name or _printable(username[:64])
        account_key, source_key, attempt = self._claim_attempt(name or username, ip, shown)
        user = repo.user_by_username(self.db, name) if name else None
        valid = self.passwords.verify(user["password_hash"] if user else None, password)
        if not valid or user is None or user["disabled"]:
            self._failed(user, shown, ip, attempt)
        self.redis.delete(account_key)
        self.redis.eval(_RELEASE_ATTEMPT, 1, source_key)  # a success is no failure of its source
        if self.passwords.needs_rehash(user["password_hash"]):
            repo.set_password_hash(self.db, user["id"], self.passwords.hash(password))
        repo.touch_login(self.db, user["id"])
        self._announce(
            "access.login_succeeded",
            {"user_id": user["id"], "username": user["username"], "ip": ip},
            f"user:{user['id']}",
        )
        return user

    @rpc
    def refresh(self, refresh_token: Any, ip: str = "") -> dict[str, Any]:
        """New tokens for an unused refresh token; reuse of a spent one ends that session."""
        if not isinstance(refresh_token, str) or not refresh_token.startswith("rt_"):
            raise Unauthorized("invalid refresh token")
        row = repo.refresh_token_by_hash(self.db, domain.digest(refresh_token[:200]))
        if row is None:
            raise Unauthorized("invalid refresh token")
        if row["revoked_at"] is not None or row["used_at"] is not None:
            repo.revoke_refresh_family(self.db, row["family"])
            self.db.commit()
            raise Unauthorized("refresh token already used or revoked; sign in again")
        if row["expires_at"] <= _now():
            raise Unauthorized("refresh token expired; sign in again")
        user = repo.user_by_id(self.db, row["user_id"])
        if user is None or user["disabled"]:
            raise Unauthorized("invalid refresh token")
        repo.mark_refresh_used(self.db, row["id"])
        self._announce(
            "access.token_refreshed", {"user_id": user["id"], "ip": ip}, f"user:{user['id']}"
        )
        return self._issue(user, family=row["family"])

    @rpc
    def logout(
        self, actor: Any, refresh_token: Any = None, jti: Any = None, expires_at: Any = None
    ) -> dict[str, Any]:
        """End a session: its refresh tokens are revoked and its access token is refused."""
        principal = _principal(actor)
        if principal.kind != "user":
            raise Forbidden("only signed-in users log out")
        if isinstance(refresh_token, str) and refresh_token.startswith("rt_"):
            row = repo.refresh_token_by_hash(self.db, domain.digest(refresh_token[:200]))
            if row is not None and row["user_id"] == principal.id:
                repo.revoke_refresh_family(self.db, row["family"])
        if isinstance(jti, str) and isinstance(expires_at, int):
            ttl = expires_at - int(_now().timestamp())
            if ttl > 0:
                self.redis.set(revoked_token_key(self.settings.access.redis_prefix, jti), 1, ex=ttl)
        self._announce("access.logged_out", {"user_id": principal.id}, principal.subject)
        return {"logged_out": True}

    # IIIF Authorization Flow 2.0 (docs/decisions/0032-iiif-auth-flow.md) ----------------------
    def _iiif_session(self, session: Any) -> tuple[repo.Row, repo.Row]:
        """The live session of a cookie value and its user; 401 otherwise."""
        if not isinstance(session, str) or not session.startswith(domain.IIIF_SESSION_PREFIX):
            raise Unauthorized("no valid IIIF session")
        row = repo.iiif_session_by_hash(self.db, domain.digest(session[:200]))
        if row is None or row["revoked_at"] is not None:
            raise Unauthorized("no valid IIIF session")
        if row["expires_at"] <= _now():
            raise Unauthorized("the IIIF session has expired")
        user = repo.user_by_id(self.db, row["user_id"])
        if user is None or user["disabled"]:
            raise Unauthorized("no valid IIIF session")
        return row, user

    @rpc
    def open_iiif_session(self, username: Any, password: Any, ip: str = "") -> dict[str, Any]:
        """Log in for the IIIF access service: the cookie value (shown once) and its lifetime."""
        user = self._sign_in(username, password, ip)
        secret = domain.new_iiif_session()
        seconds = domain.iiif_session_seconds(self.settings.access.refresh_ttl_seconds)
        repo.insert_iiif_session(
            self.db, domain.digest(secret), user["id"], _now() + timedelta(seconds=seconds)
        )
        return {"session": secret, "expires_in": seconds, "username": user["username"]}

    @rpc
    def check_iiif_session(self, session: Any) -> dict[str, Any]:
        """The principal of a live IIIF session (the image server's cookie check); 401 otherwise."""
        row, user = self._iiif_session(session)
        principal = principals.Principal(
            "user", user["id"], user["username"], frozenset(user["roles"])
        )
        remaining = int((row["expires_at"] - _now()).total_seconds())
        return {"principal": principal.to_dict(), "expires_in": max(remaining, 0)}

    @rpc
    def iiif_session_token(self, session: Any) -> dict[str, Any]:
        """An access token for the user of a live IIIF session (the token service); 401 otherwise.

        The token lives no longer than the session, and the session's logout refuses it.
        """
        row, user = self._iiif_session(session)
        conf = self.settings.access
        remaining = int((row["expires_at"] - _now()).total_seconds())
        ttl = max(1, min(conf.token_ttl_seconds, remaining))
        token, claims = issue_access_token(
            conf.signing_keys(),
            conf.token_kid,
            subject=user["id"],
            username=user["username"],
            roles=user["roles"],
            ttl_seconds=ttl,
        )
        repo.add_iiif_session_token(
            self.db, row["id"], claims.jti, datetime.fromtimestamp(claims.expires_at, UTC)
        )
        return {"access_token": token, "expires_in": ttl}

    @rpc
    def close_iiif_session(self, session: Any) -> dict[str, Any]:
        """Log out of the IIIF access service: the session and every token it handed out end."""
        if not isinstance(session, str) or not session.startswith(domain.IIIF_SESSION_PREFIX):
            return {"logged_out": False}
        row = repo.iiif_session_by_hash(self.db, domain.digest(session[:200]))
        if row is None or row["revoked_at"] is not None:
            return {"logged_out": False}
        now = _now()
        for token in repo.revoke_iiif_sessions(self.db, session_id=row["id"]):
            ttl = int((token["expires_at"] - now).total_seconds()) + 1
            self.redis.set(
                revoked_token_key(self.settings.access.redis_prefix, token["jti"]), 1, ex=ttl
            )
        self._announce("access.logged_out", {"user_id": row["user_id"]}, f"user:{row['user_id']}")
        return {"logged_out": True}

    @rpc
    def verify_api_key(self, key: Any, ip: str = "") -> dict[str, Any]:
        """The principal of a valid, unexpired, unrevoked key; 401 otherwise."""
        prefix = principals.parse_api_key(key) if isinstance(key, str) else None
        row = repo.api_key_by_prefix(self.db, prefix) if prefix else None
        if row is None or not domain.same_secret(key, row["secret_hash"]):
            raise Unauthorized("invalid API key")
        if row["revoked_at"] is not None:
            raise Unauthorized("this API key has been revoked")
        if row["expires_at"] is not None and row["expires_at"] <= _now():
            raise Unauthorized("this API key has expired")
        repo.touch_api_key(self.db, row["id"])
        self._announce(
            "access.api_key_used",
            {"key_id": row["id"], "name": row["name"], "ip": ip},
            f"key:{row['id']}",
        )
        return principals.Principal(
            kind="api_key",
            id=row["id"],
            name=row["name"],
            roles=frozenset(row["roles"]),
            scopes=frozenset(row["scopes"]),
        ).to_dict()

    # users ---------------------------------------------------------------------------------
    @rpc
    @idempotent(private=("password",))
    def create_user(
        self,
        actor: Any,
        username: Any,
        password: Any,
        roles: Any,
        display_name: str = "",
    ) -> dict[str, Any]:
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("users"), _now())
        )
        if not isinstance(roles, list):
            raise ValidationFailed("roles is a list")
        return accounts.create_user(
            self.db,
            self.passwords,
            username=username,
            password=password,
            roles=roles,
            display_name=display_name,
            actor=principal.subject,
            correlation_id=self.correlation or None,
        )

    @rpc
    def list_users(self, actor: Any) -> list[dict[str, Any]]:
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("users"), _now())
        )
        return [accounts.user_view(r) for r in repo.list_users(self.db)]

    @rpc
    def get_user(self, actor: Any, user_id: str) -> dict[str, Any]:
        principal = _principal(actor)
        _require(principals.authorize(principal, "view", principals.Account(user_id), _now()))
        row = repo.user_by_id(self.db, user_id)
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        return accounts.user_view(row)

    @rpc
    @idempotent
    def set_user_roles(self, actor: Any, user_id: str, roles: Any) -> dict[str, Any]:
        """Change a user's roles (admins only, never one's own escalation); old tokens stop."""
        principal = _principal(actor)
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValidationFailed("roles is a list of role names")
        wanted = frozenset(roles)
        _require(
            principals.authorize(
                principal, "change_roles", principals.Account(user_id, wanted), _now()
            )
        )
        try:
            domain.check_roles(roles, frozenset(principals.ROLES))
        except domain.AccessError as exc:
            raise ValidationFailed(str(exc)) from exc
        row = repo.user_by_id(self.db, user_id, lock=True)
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        previous = sorted(row["roles"])
        repo.set_user_roles(self.db, user_id, sorted(wanted))
        self._end_sessions(user_id)
        self._announce(
            "access.user_roles_changed",
            {
                "user_id": user_id,
                "username": row["username"],
                "roles": sorted(wanted),
                "previous_roles": previous,
            },
            principal.subject,
        )
        return accounts.user_view(row | {"roles": sorted(wanted)})

    @rpc
    @idempotent
    def set_user_disabled(self, actor: Any, user_id: str, disabled: Any) -> dict[str, Any]:
        """Disable (or enable) an account; a disabled user's sessions end at once."""
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("users"), _now())
        )
        if not isinstance(disabled, bool):
            raise ValidationFailed("disabled is true or false")
        if disabled and principal.id == user_id:
            raise Forbidden("an administrator may not disable their own account")
        row = repo.user_by_id(self.db, user_id, lock=True)
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        repo.set_user_disabled(self.db, user_id, disabled)
        if disabled:
            self._end_sessions(user_id)
        self._announce(
            "access.user_disabled",
            {"user_id": user_id, "username": row["username"], "disabled": disabled},
            principal.subject,
        )
        return accounts.user_view(row | {"disabled": disabled})

    @rpc
    @idempotent(private=("current_password", "new_password"))
    def change_password(
        self, actor: Any, current_password: Any, new_password: Any, ip: str = ""
    ) -> dict[str, Any]:
        """Change one's own password; every session of the account ends (sign in again)."""
        principal = _principal(actor)
        if principal.kind != "user":
            raise Forbidden("only signed-in users have a password")
        row = repo.user_by_id(self.db, principal.id, lock=True)
        if row is None or row["disabled"]:
            raise Unauthorized("sign in again")
        if not isinstance(current_password, str) or not isinstance(new_password, str):
            raise ValidationFailed("current_password and new_password are strings")
        if len(current_password) > domain.PASSWORD_MAX or not self.passwords.verify(
            row["password_hash"], current_password
        ):
            self._announce(
                "access.login_failed",
                {"username": row["username"], "ip": ip, "reason": "wrong current password"},
                principal.subject,
            )
            self.db.commit()
            raise Forbidden("the current password is wrong")
        try:
            domain.check_password(new_password, row["username"])
        except domain.AccessError as exc:
            raise ValidationFailed(str(exc)) from exc
        if new_password == current_password:
            raise ValidationFailed("the new password is the current one")
        repo.set_password_hash(self.db, principal.id, self.passwords.hash(new_password))
        self._end_sessions(principal.id)
        self._announce(
            "access.password_changed", {"user_id": principal.id, "ip": ip}, principal.subject
        )
        return {"changed": True}

    # API keys ------------------------------------------------------------------------------
    @rpc
    @idempotent(secret=("key",))
    def create_api_key(
        self,
        actor: Any,
        name: Any,
        roles: Any,
        scopes: Any = None,
        expires_at: Any = None,
    ) -> dict[str, Any]:
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("API keys"), _now())
        )
        if not isinstance(roles, list):
            raise ValidationFailed("roles is a list")
        return accounts.create_api_key(
            self.db,
            name=name,
            roles=roles,
            scopes=scopes or [],
            expires_at=_parse_time(expires_at, "expires_at"),
            actor=principal.subject,
            correlation_id=self.correlation or None,
        )

    @rpc
    @idempotent
    def revoke_api_key(self, actor: Any, key_id: str) -> dict[str, Any]:
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("API keys"), _now())
        )
        return accounts.revoke_api_key(self.db, key_id, principal.subject, self.correlation or None)

    @rpc
    def list_api_keys(self, actor: Any) -> list[dict[str, Any]]:
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("API keys"), _now())
        )
        return accounts.list_api_keys(self.db)

    # item policies -------------------------------------------------------------------------
    @rpc
    def get_policy(self, resource_kind: str, resource_id: str) -> dict[str, Any]:
        """The policy of a record or asset: an asset without one has its record's; items
        without either are public."""
        if resource_kind not in principals.RESOURCE_KINDS:
            raise ValidationFailed(
                f"resource kind is one of {', '.join(principals.RESOURCE_KINDS)}"
            )
        return self._policy_view(resource_kind, resource_id)

    def _policy_view(self, resource_kind: str, resource_id: str) -> dict[str, Any]:
        row = repo.get_policy(self.db, resource_kind, resource_id)
        record = None
        if row is None and resource_kind == "asset":
            record = repo.record_of_asset(self.db, resource_id)
        return policy_view(resource_kind, resource_id, row, record)

    @rpc
    @idempotent
    def set_policy(
        self,
        actor: Any,
        resource_kind: str,
        resource_id: str,
        level: Any,
        embargo_until: Any = None,
        reason: Any = "",
    ) -> dict[str, Any]:
        principal = _principal(actor)
        if resource_kind not in principals.RESOURCE_KINDS:
            raise ValidationFailed(
                f"resource kind is one of {', '.join(principals.RESOURCE_KINDS)}"
            )
        resource_id = _uuid(resource_id, "resource id")
        item = principals.Item(resource_kind, resource_id)
        _require(principals.authorize(principal, "manage", item, _now()))
        if level not in principals.POLICY_LEVELS:
            raise ValidationFailed(f"level is one of {', '.join(principals.POLICY_LEVELS)}")
        until = _parse_time(embargo_until, "embargo_until")
        if (level == principals.EMBARGOED) != (until is not None):
            raise ValidationFailed("embargo_until is given exactly when the level is embargoed")
        if not isinstance(reason, str) or len(reason) > 1000:
            raise ValidationFailed("reason has at most 1000 characters")
        before = repo.get_policy(self.db, resource_kind, resource_id)
        repo.upsert_policy(
            self.db, resource_kind, resource_id, level, until, reason, principal.subject
        )
        self._announce(
            "access.policy_changed",
            {
                "resource_kind": resource_kind,
                "resource_id": resource_id,
                "level": level,
                "embargo_until": until.isoformat() if until else None,
                "reason": reason,
                "previous_level": before["level"] if before else None,
            },
            principal.subject,
        )
        return self._policy_view(resource_kind, resource_id)

    # audit ---------------------------------------------------------------------------------
    @rpc
    def record_denied(
        self, principal: str, method: str, path: str, status: int, reason: str, ip: str = ""
    ) -> None:
        """Audit a request the gateway refused (called without waiting for an answer)."""
        self._announce(
            "access.request_denied",
            {
                "principal": _printable(str(principal)[:256]),
                "method": _printable(str(method)[:16]),
                "path": _printable(str(path)[:512]),
                "status": int(status),
                "reason": _printable(str(reason)[:512]),
                "ip": _printable(str(ip)[:64]),
            },
            _printable(str(principal)[:256]),
        )

    @rpc
    def list_audit(
        self,
        actor: Any,
        event_type: str | None = None,
        by: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The audit log, newest first (admins only)."""
        principal = _principal(actor)
        _require(
            principals.authorize(principal, "manage", principals.Administration("audit"), _now())
        )
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationFailed("limit is between 1 and 1000")
        rows = repo.list_audit(self.db, event_type, by, _parse_time(before, "before"), limit)
        return [r | {"occurred_at": r["occurred_at"].isoformat()} for r in rows]

    @reliable_handler("access.*")
    def handle_access_event(self, event: Event) -> None:
        """Keep every access.* event in the audit log (the projection admins query)."""
        repo.insert_audit(
            self.db, event.event_id, event.type, event.occurred_at, event.actor, event.data
        )

    @reliable_handler(*RECORD_EVENTS)
    def handle_record_event(self, event: Event) -> None:
        """Keep each record's workflow state: the assets of a record the public may not see
        are for staff only (ADR 0034)."""
        data = event.data
        record_id = str(data["record_id"])
        state = "deleted" if event.type == "catalogue.record_deleted" else str(data["state"])
        before, changed = repo.apply_record_state(
            self.db, record_id, state, int(data["version"]), event.occurred_at
        )
        # caches of its assets' policies are purged when its visibility changes (a record seen
        # for the first time has no decisions cached on its state)
        if changed and before is not None and (before == "published") != (state == "published"):
            self._announce(
                "access.record_visibility_changed",
                {"record_id": record_id, "published": state == "published", "state": state},
                event.actor,
            )

    @reliable_handler("media.asset_ingested", "media.asset_deleted")
    def handle_asset_event(self, event: Event) -> None:
        """Keep which record each asset belongs to, for the policy an asset inherits.

        A deleted asset keeps its record (its files live until the purge, as closed as the
        record), so a redelivered or late event never opens anything.
        """
        data = event.data
        repo.apply_asset_record(
            self.db,
            str(data["asset_id"]),
            str(data["record_id"]),
            event.type == "media.asset_deleted",
            event.occurred_at,
        )
