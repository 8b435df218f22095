"""Access decisions for HTTP surfaces outside nameko (the image server, scripts).

``AccessClient.decide(bearer, kind, id)`` does what the gateway does for an item: verify the
bearer token locally (signing keys, Redis revocation), fetch the item's policy from the access
service (standalone RPC, cached briefly; call ``purge`` on ``access.policy_changed``) and ask
``principals.authorize``. Thread-safe: one RPC at a time under a lock, policies from the cache.
``decide(..., session=cookie)`` does the same for the IIIF access service's session cookie
(checked by RPC ``check_iiif_session``, cached as briefly as policies).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import redis as redis_lib
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from shared import principals
from shared.auth import (
    TokenError,
    TtlCache,
    is_stale,
    revoked_token_key,
    user_revision_key,
    verify_access_token,
)
from shared.config import Settings
from shared.principals import AccessUnavailable

log = logging.getLogger(__name__)

__all__ = ["AccessClient", "AccessUnavailable"]


class AccessClient:
    def __init__(
        self,
        settings: Settings,
        access_service: str = "access",
        cache_seconds: float | None = None,
        rpc_timeout: float = 5.0,
    ) -> None:
        conf = settings.access
        self.keys = conf.signing_keys()
        self.prefix = conf.redis_prefix
        self.amqp_uri = settings.amqp_uri
        self.access_service = access_service
        self.rpc_timeout = rpc_timeout
        ttl = conf.cache_seconds if cache_seconds is None else cache_seconds
        self.policies = TtlCache(ttl)
        self.sessions = TtlCache(ttl, max_entries=10_000)  # cookie digest → principal | refusal
        self.redis = redis_lib.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        self._lock = threading.Lock()
        self._runner: Any = None
        self._proxy: Any = None

    # who -----------------------------------------------------------------------------------
    def principal(self, bearer: str | None) -> principals.Principal:
        """The caller of a bearer token (anonymous without one); TokenError if it is invalid."""
        if not bearer:
            return principals.ANONYMOUS
        claims = verify_access_token(bearer, self.keys)
        try:
            revoked, revision = self.redis.mget(
                revoked_token_key(self.prefix, claims.jti),
                user_revision_key(self.prefix, claims.subject),
            )
        except redis_lib.RedisError as exc:
            raise AccessUnavailable("the session store is unreachable") from exc
        if is_stale(claims, revoked, revision):
            raise TokenError("this token was revoked; sign in again")
        return principals.Principal(
            kind="user", id=claims.subject, name=claims.username, roles=frozenset(claims.roles)
        )

    def session_principal(self, session: str) -> principals.Principal:
        """The user of a live IIIF access-service session (its cookie); TokenError if not live."""
        key = hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()
        cached = self.sessions.get(key)
        if cached is None:
            with self._lock:
                try:
                    data = self._rpc().check_iiif_session(session)
                    cached = principals.Principal.from_dict(data["principal"])
                    ttl = float(data.get("expires_in") or 0)
                except RemoteError as exc:
                    if exc.exc_type != "Unauthorized":
                        raise AccessUnavailable(f"the access service failed: {exc}") from exc
                    cached, ttl = str(exc.value) or "no valid IIIF session", self.sessions.ttl
                except Exception as exc:  # noqa: BLE001 - any RPC failure: fail closed
                    self._close()
                    raise AccessUnavailable(f"the access service did not answer: {exc}") from exc
            self.sessions.put(key, cached, ttl=ttl)
        if isinstance(cached, str):
            raise TokenError(cached)
        return cached  # type: ignore[no-any-return]

    # what ----------------------------------------------------------------------------------
    def policy(self, kind: str, resource_id: str) -> principals.Policy:
        cached = self.policies.get((kind, resource_id))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        with self._lock:
            try:
                data = self._rpc().get_policy(kind, resource_id)
            except Exception as exc:  # noqa: BLE001 - any RPC failure: fail closed
                self._close()
                raise AccessUnavailable(f"the access service did not answer: {exc}") from exc
        until = data.get("embargo_until")
        policy = principals.Policy(
            level=data["level"],
            embargo_until=datetime.fromisoformat(until) if until else None,
            reason=data.get("reason") or "",
        )
        self.policies.put((kind, resource_id), policy)
        return policy

    def decide(
        self, bearer: str | None, kind: str, resource_id: str, session: str | None = None
    ) -> principals.Decision:
        """May the bearer of this token (else of this session cookie, else nobody) read it now?"""
        try:
            if bearer or not session:
                principal = self.principal(bearer)
            else:
                principal = self.session_principal(session)
        except TokenError as exc:
            what = "bearer token" if bearer else "session"
            return principals.Decision(False, 401, f"invalid {what}: {exc}")
        item = principals.Item(kind, resource_id, self.policy(kind, resource_id))
        return principals.authorize(principal, "read", item, datetime.now(UTC))

    def purge(self, kind: str | None = None, resource_id: str | None = None) -> None:
        """Forget a cached policy (all of them without arguments)."""
        if kind is None or resource_id is None:
            self.policies.clear()
            self.sessions.clear()
        else:
            self.policies.pop((kind, resource_id))

    def forget_sessions(self) -> None:
        """Forget cached session checks (after ``access.logged_out`` and other account events)."""
        self.sessions.clear()

    # plumbing ------------------------------------------------------------------------------
    def _rpc(self) -> Any:
        if self._proxy is None:
            self._runner = ServiceRpcProxy(
                self.access_service, {"AMQP_URI": self.amqp_uri}, timeout=self.rpc_timeout
            )
            self._proxy = self._runner.start()
        return self._proxy

    def _close(self) -> None:
        runner, self._runner, self._proxy = self._runner, None, None
        if runner is not None:
            try:
                runner.stop()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("error closing the access RPC proxy", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._close()
        self.redis.close()
