"""Access tokens and the Redis keys every HTTP surface shares to enforce them.

Access tokens are short-lived JWTs signed with HMAC-SHA256 by the access service. Each names the
key that signed it in its ``kid`` header; any surface holding the current keys verifies them
locally, without a call to the access service. Only ``HS256`` is accepted: ``alg: none`` and
algorithm-confusion tokens are refused before any signature work.

Revocation before expiry goes through Redis: a logged-out token's ``jti`` is listed until it
expires, and a user whose roles changed has a revision time; tokens issued before it are stale.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import redis
from nameko.extensions import DependencyProvider

ALGORITHM = "HS256"
ISSUER = "disan"
MAX_TOKEN_LENGTH = 4096


class TokenError(Exception):
    """A token is malformed, expired, signed with an unknown key, or otherwise not valid."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified access token says about its bearer."""

    subject: str
    username: str
    roles: tuple[str, ...]
    jti: str
    issued_at: int
    expires_at: int
    issued_at_ms: int = 0  # precise issue time, to compare with role changes in the same second


def issue_access_token(
    keys: Mapping[str, str],
    kid: str,
    *,
    subject: str,
    username: str,
    roles: Sequence[str],
    ttl_seconds: int,
    now: float | None = None,
) -> tuple[str, TokenClaims]:
    """A signed access token for a user, and the claims it carries."""
    moment = time.time() if now is None else now
    issued = int(moment)
    claims = TokenClaims(
        subject=subject,
        username=username,
        roles=tuple(sorted(set(roles))),
        jti=uuid.uuid4().hex,
        issued_at=issued,
        expires_at=issued + ttl_seconds,
        issued_at_ms=int(moment * 1000),
    )
    payload = {
        "iss": ISSUER,
        "typ": "access",
        "sub": claims.subject,
        "name": claims.username,
        "roles": list(claims.roles),
        "jti": claims.jti,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "iat_ms": claims.issued_at_ms,
    }
    token = jwt.encode(payload, keys[kid], algorithm=ALGORITHM, headers={"kid": kid})
    return token, claims


def verify_access_token(
    token: str, keys: Mapping[str, str], now: float | None = None
) -> TokenClaims:
    """The claims of a valid token; ``TokenError`` with a short reason otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenError("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenError("token algorithm not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise TokenError("token signed with an unknown key")
    options: Any = {"require": ["exp", "iat", "sub", "jti", "iss"]}
    if now is not None:
        options["verify_exp"] = False
    try:
        payload = jwt.decode(
            token, keys[kid], algorithms=[ALGORITHM], issuer=ISSUER, options=options
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token ({type(exc).__name__})") from exc
    if now is not None and int(payload["exp"]) <= now:
        raise TokenError("token expired")
    roles = payload.get("roles")
    if payload.get("typ") != "access" or not isinstance(roles, list):
        raise TokenError("not an access token")
    return TokenClaims(
        subject=str(payload["sub"]),
        username=str(payload.get("name", "")),
        roles=tuple(str(r) for r in roles),
        jti=str(payload["jti"]),
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
        issued_at_ms=int(payload.get("iat_ms") or int(payload["iat"]) * 1000),
    )


class TtlCache:
    """A small in-process cache whose entries expire; ``ttl`` 0 caches nothing."""

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._data.pop(key, None)
            return None
        return entry[1]

    def put(self, key: Any, value: Any, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else min(ttl, self.ttl)
        if ttl <= 0:
            return
        if len(self._data) >= self.max_entries:
            self._data.clear()
        self._data[key] = (time.monotonic() + ttl, value)

    def pop(self, key: Any) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()


# Redis keys shared by the access service (writer) and every enforcing surface (reader) ------


def revoked_token_key(prefix: str, jti: str) -> str:
    """Set while a logged-out access token has not yet expired."""
    return f"{prefix}auth:revoked:{jti}"


def user_revision_key(prefix: str, user_id: str) -> str:
    """Unix time in ms of the user's last role change or disabling; older tokens are stale."""
    return f"{prefix}auth:user_rev:{user_id}"


def is_stale(claims: TokenClaims, revoked: Any, revision: Any) -> bool:
    """Whether Redis says a verified token may no longer be used (logged out or outdated)."""
    if revoked:
        return True
    if revision is None:
        return False
    try:
        return claims.issued_at_ms <= int(float(revision))
    except (TypeError, ValueError):
        return True


def rate_limit_hit(client: Any, key: str, limit: int, window_seconds: int = 60) -> int:
    """Count one hit in a fixed window; 0 if allowed, else seconds until the window resets."""
    bucket = int(time.time()) // window_seconds
    full = f"{key}:{bucket}"
    pipe = client.pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, window_seconds + 1)
    count = int(pipe.execute()[0])
    if count <= limit:
        return 0
    return max(1, window_seconds - int(time.time()) % window_seconds)


class RedisStore(DependencyProvider):  # type: ignore[misc]
    """The Redis client of the auth counters and revocation lists, built in ``setup()``."""

    def __init__(self) -> None:
        self.client: Any = None

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        self.client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.client
