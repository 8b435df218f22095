"""Who may see an image. Public assets are served freely; the access service decides the rest.

:class:`PolicyAccess` asks the access service (``shared.access_client.AccessClient``) for the
asset's policy and decides with ``shared.principals.authorize``; :class:`PublicAccess`
(every asset public) remains for tests and for a server started with ``access: public``. A
denial is a :class:`Decision` with status 401 (no or bad credentials) or 403 (credentials, but
not allowed) and the IIIF Authorization Flow 2.0 probe service that info.json and error bodies
carry, so a viewer can start the login flow (docs/decisions/0022-imageserver-access.md).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from iiif.auth import probe_service

# AccessUnavailable (no decision possible) is a 503; the client itself (nameko, Redis) is
# imported only by the worker that uses it, not by every importer of this module
from shared.principals import IIIF_SESSION_COOKIE, AccessUnavailable

__all__ = [
    "SESSION_COOKIE",
    "AccessChecker",
    "AccessUnavailable",
    "Credentials",
    "Decision",
    "PolicyAccess",
    "PublicAccess",
]


@dataclass(frozen=True)
class Credentials:
    """What the client presented: a bearer token (header) and/or the cookies it sent."""

    bearer: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_headers(cls, authorization: str | None, cookie: str | None) -> Credentials:
        bearer = None
        if authorization and authorization[:7].lower() == "bearer ":
            bearer = authorization[7:].strip() or None
        jar: dict[str, str] = {}
        for part in (cookie or "").split(";"):
            name, eq, value = part.strip().partition("=")
            if eq and name:
                jar[name] = value
        return cls(bearer, jar)


@dataclass(frozen=True)
class Decision:
    """``allowed``; else ``status`` 401/403 with ``services`` (IIIF Auth 2.0 descriptions).

    ``public`` says the image may sit in shared caches (``Cache-Control: public``).
    """

    allowed: bool
    public: bool = True
    status: int = 200
    reason: str = ""
    services: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def allow_public(cls) -> Decision:
        return cls(True)

    @classmethod
    def allow_private(cls, services: tuple[Mapping[str, Any], ...] = ()) -> Decision:
        return cls(True, public=False, services=services)

    @classmethod
    def deny(
        cls, status: int, reason: str, services: tuple[Mapping[str, Any], ...] = ()
    ) -> Decision:
        if status not in (401, 403):
            raise ValueError("a denial is 401 or 403")
        return cls(False, public=False, status=status, reason=reason, services=services)


class AccessChecker(Protocol):
    """Decides one request; called before any cache lookup, so it must be fast (cache inside)."""

    def check(self, asset_id: str, credentials: Credentials) -> Decision: ...

    def cached(self, asset_id: str, credentials: Credentials) -> Decision | None:
        """The decision if it is known without blocking (else None: call ``check`` in a thread)."""
        ...

    def purge(self, asset_id: str | None) -> None:
        """Forget cached decisions (``None``: all), after ``access.policy_changed``."""
        ...


class PublicAccess:
    """Every asset is public: the behaviour until the access service answers policies."""

    def check(self, asset_id: str, credentials: Credentials) -> Decision:
        return Decision.allow_public()

    def cached(self, asset_id: str, credentials: Credentials) -> Decision | None:
        return Decision.allow_public()

    def purge(self, asset_id: str | None) -> None:
        return None


SESSION_COOKIE = IIIF_SESSION_COOKIE  # the IIIF access service's cookie, set by the gateway


class DecisionSource(Protocol):
    """What :class:`PolicyAccess` needs of ``shared.access_client.AccessClient``."""

    policies: Any

    def policy(self, kind: str, resource_id: str) -> Any: ...

    def decide(
        self, bearer: str | None, kind: str, resource_id: str, session: str | None = None
    ) -> Any: ...

    def purge(self, kind: str | None = None, resource_id: str | None = None) -> None: ...

    def forget_sessions(self) -> None: ...


def _credential_key(credentials: Credentials) -> str:
    if credentials.bearer:
        secret = "b:" + credentials.bearer
    elif credentials.cookies.get(SESSION_COOKIE):
        secret = "c:" + credentials.cookies[SESSION_COOKIE]
    else:
        return "anonymous"
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class PolicyAccess:
    """Asset policies from the access service, decided by ``shared.principals.authorize``.

    Public assets are served to anyone (credentials are not even looked at); the others need a
    bearer token (the IIIF token service's or the platform's API token) or the IIIF session
    cookie. Decisions are cached per (asset, credential digest) for at most ``ttl`` seconds in
    a bounded cache and dropped on purge events, so a changed policy or a logout applies within
    ``ttl`` even if the event is lost. ``check`` may block on an RPC: call it off the event
    loop; ``cached`` never blocks.
    """

    def __init__(
        self,
        client: DecisionSource,
        probe_base_url: str,
        ttl: float = 2.0,
        max_entries: int = 20_000,
    ) -> None:
        self.client = client
        self.probe_base_url = probe_base_url
        self.ttl = ttl
        self.max_entries = max_entries
        self._decisions: dict[tuple[str, str], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def services(self, asset_id: str) -> tuple[Mapping[str, Any], ...]:
        return (probe_service(self.probe_base_url, asset_id),)

    def cached(self, asset_id: str, credentials: Credentials) -> Decision | None:
        now = time.monotonic()
        entry = self._decisions.get((asset_id, "*"))  # public: no credential to look at
        if entry is None or entry[0] <= now:
            entry = self._decisions.get((asset_id, _credential_key(credentials)))
        if entry is None or entry[0] <= now:
            return None  # expired entries are replaced by the next check
        return entry[1]

    def check(self, asset_id: str, credentials: Credentials) -> Decision:
        decision = self.cached(asset_id, credentials)
        if decision is not None:
            return decision
        # AccessUnavailable propagates: no decision means no image (fail closed, 503)
        policy = self.client.policy("asset", asset_id)
        services = self.services(asset_id)
        if policy.effective_level(datetime.now(UTC)) == "public":
            # the same answer for everyone until the policy changes (or an embargo ends)
            decision, key = Decision.allow_public(), "*"
        else:
            verdict = self.client.decide(
                credentials.bearer,
                "asset",
                asset_id,
                session=credentials.cookies.get(SESSION_COOKIE) or None,
            )
            key = _credential_key(credentials)
            if verdict.allowed:
                decision = Decision.allow_private(services)
            else:
                decision = Decision.deny(verdict.status, verdict.reason, services)
        with self._lock:
            if len(self._decisions) >= self.max_entries:
                self._decisions.clear()
            self._decisions[(asset_id, key)] = (time.monotonic() + self.ttl, decision)
        return decision

    def purge(self, asset_id: str | None) -> None:
        with self._lock:
            if asset_id is None:
                self._decisions.clear()
            else:
                for key in [k for k in self._decisions if k[0] == asset_id]:
                    del self._decisions[key]
        if asset_id is None:
            self.client.purge()
        else:
            self.client.purge("asset", asset_id)
