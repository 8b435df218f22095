"""Authentication and enforcement at the gateway: who is calling, may they, how often.

Every route goes through ``Gate.admit``: a bearer token is verified locally with the current
signing keys (plus a Redis check for logged-out tokens and changed roles); an ``X-API-Key`` is
checked by the access service over RPC. Both results are cached for ``cache_seconds`` and purged
when the access service announces a change (``policy_changed``, ``api_key_revoked``,
``user_roles_changed``, ``logged_out``), so a revoked key stops within that time at worst.
The decision itself is always ``shared.principals.authorize``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import redis as redis_lib
from nameko.exceptions import RemoteError

from services.gateway.api_request import ApiRequest
from shared import principals as domain
from shared.auth import (
    TokenError,
    TtlCache,
    is_stale,
    rate_limit_hit,
    revoked_token_key,
    user_revision_key,
    verify_access_token,
)
from shared.backoff import Backoff
from shared.broadcast import BroadcastConsumer
from shared.bus import declare_base
from shared.errors import BadRequest, Forbidden, RateLimited, Unauthorized, Unavailable
from shared.rpc_client import ServiceClient, ServiceRpc

log = logging.getLogger(__name__)

PURGE_EVENTS = (
    "access.policy_changed",
    "access.record_visibility_changed",
    "access.api_key_revoked",
    "access.user_roles_changed",
    "access.logged_out",
    "access.user_disabled",
    "access.password_changed",
)
LOOPBACK = "127.0.0.1/32,::1/128"
MAX_API_KEY_LENGTH = 200
RPC_TIMEOUT = 10.0
#: refusals kept while the access service cannot be told of them (a broker outage), oldest
#: dropped beyond this: sent once a later request finds the broker back
UNAUDITED_MAX = 10_000
UNAUDITED_RETRY_SECONDS = 2.0  # between attempts to send them while the broker stays away


@functools.lru_cache(maxsize=16)
def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip()) for p in spec.split(",") if p.strip())


def client_ip(request: ApiRequest, trusted: str = LOOPBACK) -> str:
    """The caller's address; ``X-Real-IP`` is believed only from a trusted front proxy."""
    remote = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if any(address in network for network in _networks(trusted)):
        forwarded = request.headers.get("X-Real-IP", "").strip()
        if forwarded and len(forwarded) <= 64:
            return forwarded
    return remote


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class AccessGate(ServiceRpc):
    """The gateway's access dependency: RPC to the access service plus local verification."""

    def __init__(self) -> None:
        super().__init__("access", "access service", timeout=RPC_TIMEOUT)
        self.purge_listener: BroadcastConsumer | None = None
        self._purge_thread: Any = None
        self.unaudited: deque[tuple[Any, ...]] = deque(maxlen=UNAUDITED_MAX)
        self.unaudited_retry_at = 0.0

    def setup(self) -> None:
        super().setup()  # the target service (DISAN_ACCESS_SERVICE renames it, for tests)
        config = self.container.config
        self.settings = config["DISAN_SETTINGS"]
        conf = self.settings.access
        self.keys = conf.signing_keys()  # refuses to start without a signing key
        ttl = float(config.get("DISAN_AUTH_CACHE_SECONDS", conf.cache_seconds))
        self.credentials = TtlCache(ttl)
        self.policies = TtlCache(ttl)
        self.redis = redis_lib.Redis.from_url(
            self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        # a broadcast (a queue per gateway process): a cache purge only, never data, so losing
        # one while disconnected costs at most ``cache_seconds``; on (re)connection everything
        # that changes access was possibly missed, so every cache is purged
        self.purge_listener = BroadcastConsumer(
            self.settings.amqp_uri,
            PURGE_EVENTS,
            self._purge_event,
            "disan.gateway.purge",
            on_connect=lambda: self.purge("*", {}),
            declare=declare_base,
            backoff=Backoff(1.0, 1.0),
            heartbeat=0,
            poll_seconds=0.5,
        )

    def start(self) -> None:
        assert self.purge_listener is not None
        self._purge_thread = self.container.spawn_managed_thread(
            self.purge_listener.run, identifier="auth-purge"
        )

    def stop(self) -> None:
        if self.purge_listener is not None:
            self.purge_listener.stop()
        thread, self._purge_thread = self._purge_thread, None
        if thread is not None:
            thread.kill()
        self.redis.close()

    kill = stop

    def _purge_event(self, event: dict[str, Any]) -> None:
        self.purge(str(event.get("type", "")), dict(event.get("data") or {}))

    def purge(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type == "access.record_visibility_changed":
            self.policies.clear()  # its assets without a policy of their own follow it
            return
        if event_type == "access.policy_changed":
            if data.get("resource_kind") == "record":
                self.policies.clear()  # its assets without a policy of their own inherit it
            else:
                self.policies.pop((data.get("resource_kind"), data.get("resource_id")))
            return
        self.credentials.clear()
        if event_type == "*":
            self.policies.clear()

    def get_dependency(self, worker_ctx: Any) -> Gate:  # type: ignore[override]
        gate = Gate(self, super().get_dependency(worker_ctx))
        if self.unaudited and time.monotonic() >= self.unaudited_retry_at:
            # refusals kept during an outage: sent as soon as the broker is back
            gate.send_unaudited()
        return gate


class Gate:
    """One worker's view of the access dependency."""

    def __init__(self, provider: AccessGate, client: ServiceClient) -> None:
        self.provider = provider
        self.client = client
        self.access = client.proxy  # RPC proxy of the access service (for call_async)
        self.conf = provider.settings.access

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Call the access service; 503 if it does not answer in time."""
        return self.client.call(method, *args, timeout=timeout)

    def client_ip(self, request: ApiRequest) -> str:
        return client_ip(request, self.conf.trusted_proxies)

    # authentication ------------------------------------------------------------------------
    def authenticate(self, request: ApiRequest, limit: str | None) -> domain.Principal:
        """The caller, from a bearer token or API key; anonymous without credentials."""
        header = request.headers.get("Authorization")
        key = request.headers.get("X-API-Key")
        if header is not None and key is not None:
            raise BadRequest("send either a bearer token or an API key, not both")
        ip = self.client_ip(request)
        if key is not None:
            principal = self._api_key(key, ip)
            self._limit(f"key:{principal.id}", self.conf.api_key_per_minute)
        elif header is not None:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("use the header Authorization: Bearer <access token>")
            principal = self._bearer(request, token.strip())
        else:
            principal = domain.ANONYMOUS
            if limit is not None:
                self._limit(f"ip:{ip}", self.conf.public_per_minute)
        if limit == "login":
            self._limit(f"login:{ip}", self.conf.login_per_minute)
        return principal

    def _bearer(self, request: ApiRequest, token: str) -> domain.Principal:
        cache_key = ("bearer", _digest(token))
        cached = self.provider.credentials.get(cache_key)
        if cached is not None:
            request.token_claims = cached[1]
            return cached[0]  # type: ignore[no-any-return]
        try:
            claims = verify_access_token(token, self.provider.keys)
        except TokenError as exc:
            raise Unauthorized(f"invalid bearer token: {exc}") from exc
        prefix = self.conf.redis_prefix
        try:
            revoked, revision = self.provider.redis.mget(
                revoked_token_key(prefix, claims.jti), user_revision_key(prefix, claims.subject)
            )
        except redis_lib.RedisError as exc:
            raise Unavailable("the session store is unreachable") from exc
        if is_stale(claims, revoked, revision):
            raise Unauthorized("this token was revoked; sign in again")
        principal = domain.Principal(
            kind="user", id=claims.subject, name=claims.username, roles=frozenset(claims.roles)
        )
        self.provider.credentials.put(
            cache_key, (principal, claims), ttl=claims.expires_at - time.time()
        )
        request.token_claims = claims
        return principal

    def _api_key(self, key: str, ip: str) -> domain.Principal:
        if not key or len(key) > MAX_API_KEY_LENGTH or domain.parse_api_key(key) is None:
            raise Unauthorized("invalid API key")  # malformed: refused without asking anyone
        cache_key = ("key", _digest(key))
        cached = self.provider.credentials.get(cache_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        # a lookup costs the access service a query: guessing keys is limited per address
        self._limit(f"ip:{ip}", self.conf.public_per_minute)
        try:
            principal = domain.Principal.from_dict(self.call("verify_api_key", key, ip))
        except RemoteError as exc:
            if exc.exc_type == "Unauthorized":
                raise Unauthorized(str(exc.value)) from exc
            raise
        self.provider.credentials.put(cache_key, principal)
        return principal

    def _limit(self, subject: str, per_minute: int) -> None:
        key = f"{self.conf.redis_prefix}rl:{subject}"
        try:
            wait = rate_limit_hit(self.provider.redis, key, per_minute)
        except redis_lib.RedisError as exc:
            raise Unavailable("the rate limiter is unreachable") from exc
        if wait:
            raise RateLimited(f"too many requests; try again in {wait} s", {"retry_after": wait})

    # authorization -------------------------------------------------------------------------
    def check(
        self,
        request: ApiRequest,
        principal: domain.Principal,
        action: str,
        resource: domain.Resource,
    ) -> None:
        """Raise 401/403 unless ``authorize`` allows; every refusal is audited."""
        decision = domain.authorize(principal, action, resource, datetime.now(UTC))
        if decision.allowed:
            return
        self.denied(request, principal, decision.status, decision.reason)
        raise (Unauthorized if decision.status == 401 else Forbidden)(decision.reason)

    def denied(
        self, request: ApiRequest, principal: domain.Principal, status: int, reason: str
    ) -> None:
        """Audit a refused request, without waiting for the access service. While the broker
        is unreachable the refusal is kept and sent by a later request (``send_unaudited``)."""
        refusal = (
            principal.subject,
            request.method,
            request.path,
            status,
            reason,
            self.client_ip(request),
        )
        try:
            self.access.record_denied.call_async(*refusal)
        except Exception:  # noqa: BLE001 - auditing must not turn a 401 into a 500
            log.warning("could not audit a denied request; kept to send later", exc_info=True)
            self.provider.unaudited.append(refusal)

    def send_unaudited(self) -> None:
        """Send the refusals kept during an outage, oldest first; stop at the first failure."""
        backlog = self.provider.unaudited
        while backlog:
            refusal = backlog.popleft()
            try:
                self.access.record_denied.call_async(*refusal)
            except Exception:  # noqa: BLE001 - still unreachable: keep it for the next request
                backlog.appendleft(refusal)
                self.provider.unaudited_retry_at = time.monotonic() + UNAUDITED_RETRY_SECONDS
                return

    def policy(self, kind: str, resource_id: str) -> domain.Policy:
        """An item's policy (cached briefly, purged when it changes)."""
        cache_key = (kind, resource_id)
        cached = self.provider.policies.get(cache_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        data = self.call("get_policy", kind, resource_id)
        until = data.get("embargo_until")
        policy = domain.Policy(
            level=data["level"],
            embargo_until=datetime.fromisoformat(until) if until else None,
            reason=data.get("reason") or "",
        )
        self.provider.policies.put(cache_key, policy)
        return policy

    def require_item(
        self, request: ApiRequest, kind: str, resource_id: str, action: str = "read"
    ) -> domain.Policy:
        """Raise 401/403 unless the caller may ``action`` the record or asset."""
        policy = self.policy(kind, resource_id)
        principal = getattr(request, "principal", domain.ANONYMOUS)
        self.check(request, principal, action, domain.Item(kind, resource_id, policy))
        return policy
