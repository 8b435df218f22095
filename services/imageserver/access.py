"""Who may see an image. Public assets are served freely; the access service decides the rest.

The access service is built separately. Until it answers, every asset is public
(:class:`PublicAccess`). A checker for restricted items returns a :class:`Decision` with
status 401 (no or bad credentials) or 403 (credentials, but not allowed) and the IIIF
Authorization Flow 2.0 ``service`` entries that info.json and error bodies carry, so a viewer
can start the login flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["AccessChecker", "Credentials", "Decision", "PublicAccess"]


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
    def allow_private(cls) -> Decision:
        return cls(True, public=False)

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

    def purge(self, asset_id: str | None) -> None:
        """Forget cached decisions (``None``: all), after ``access.policy_changed``."""
        ...


class PublicAccess:
    """Every asset is public: the behaviour until the access service answers policies."""

    def check(self, asset_id: str, credentials: Credentials) -> Decision:
        return Decision.allow_public()

    def purge(self, asset_id: str | None) -> None:
        return None
