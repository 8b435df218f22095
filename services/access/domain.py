"""Who may do what: identities, item policies, and the one decision function ``authorize``.

Pure: no I/O, no framework. ``authorize`` is the single place where access decisions are made;
the gateway calls it for every route, and for items it is fed the item's policy.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

# roles ---------------------------------------------------------------------------------------

ADMIN, CATALOGUER, REVIEWER, RESEARCHER, PARTNER = (
    "admin",
    "cataloguer",
    "reviewer",
    "researcher",
    "partner",
)
PUBLIC = "public"  # anyone, signed in or not
ROLES = (ADMIN, CATALOGUER, REVIEWER, RESEARCHER, PARTNER)
STAFF = frozenset({ADMIN, CATALOGUER, REVIEWER})
API_KEY_ROLES = frozenset({PARTNER, RESEARCHER})  # what a partner key may carry, never staff
POLICY_MANAGERS = frozenset({ADMIN, CATALOGUER})

# item policies ---------------------------------------------------------------------------------

OPEN, RESTRICTED, EMBARGOED, STAFF_ONLY = "public", "restricted", "embargoed", "staff_only"
POLICY_LEVELS = (OPEN, RESTRICTED, EMBARGOED, STAFF_ONLY)
RESOURCE_KINDS = ("record", "asset")


class AccessError(Exception):
    """Base of the access service's own errors (bad usernames, passwords, keys)."""


class AccessUnavailable(Exception):
    """The access service or the session store did not answer: fail closed."""


class InvalidUsername(AccessError):
    pass


class WeakPassword(AccessError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a signed-in user, a partner's API key, or nobody."""

    kind: str  # "user" | "api_key" | "anonymous"
    id: str = ""
    name: str = "anonymous"
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()  # API keys: the API tags they may call; empty = all

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def subject(self) -> str:
        """How audit events name the actor: ``user:ID``, ``key:ID`` or ``anonymous``."""
        return {"user": f"user:{self.id}", "api_key": f"key:{self.id}"}.get(self.kind, "anonymous")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "roles": sorted(self.roles),
            "scopes": sorted(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Principal:
        roles = data.get("roles") or []
        scopes = data.get("scopes") or []
        assert isinstance(roles, list) and isinstance(scopes, list)
        return cls(
            kind=str(data.get("kind", "anonymous")),
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            roles=frozenset(str(r) for r in roles),
            scopes=frozenset(str(s) for s in scopes),
        )


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True)
class Policy:
    """An item's access policy; ``embargoed`` items become public at ``embargo_until``."""

    level: str = OPEN
    embargo_until: datetime | None = None
    reason: str = ""

    def effective_level(self, now: datetime) -> str:
        if self.level == EMBARGOED and self.embargo_until is not None and now >= self.embargo_until:
            return OPEN
        return self.level


DEFAULT_POLICY = Policy()


UNPUBLISHED = Policy(STAFF_ONLY, None, "the record is not published")


def asset_policy(
    own: Policy | None, record: Policy | None, record_published: bool | None = None
) -> tuple[Policy, bool]:
    """An asset's policy and whether it came from its record.

    The asset's own policy wins, even when it is more open than its record's (a cataloguer
    may publish one image of a restricted record). Without one, the asset of a record the
    public may not see (draft, in review, withdrawn, deleted: ``record_published`` False) is
    for staff only, as the record is; otherwise it inherits its record's policy; without
    either it is public (``record_published`` None: the record's state is not known).
    """
    if own is not None:
        return own, False
    if record_published is False:
        return UNPUBLISHED, True
    if record is not None:
        return record, True
    return DEFAULT_POLICY, False


# resources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """An HTTP operation: the roles it admits (``public`` = anyone) and its API tags."""

    roles: frozenset[str]
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Item:
    """A catalogue record or media asset under a policy."""

    kind: str
    id: str
    policy: Policy = DEFAULT_POLICY


@dataclass(frozen=True)
class Account:
    """A user account, as the target of role changes; ``roles`` are the roles asked for."""

    user_id: str
    roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Administration:
    """Platform administration: users, API keys, the audit log."""

    area: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # 200, or 401 (who are you?) / 403 (you may not)
    reason: str


Resource = Route | Item | Account | Administration


def _allow(reason: str = "allowed") -> Decision:
    return Decision(True, 200, reason)


def _deny(principal: Principal, reason: str) -> Decision:
    return Decision(False, 403 if principal.authenticated else 401, reason)


def authorize(principal: Principal, action: str, resource: Resource, now: datetime) -> Decision:
    """Whether ``principal`` may do ``action`` on ``resource`` at ``now``, and why (not).

    Anything not explicitly allowed is denied: 401 for the anonymous, 403 for everyone else.
    """
    roles = principal.roles
    if isinstance(resource, Route) and action == "call":
        if PUBLIC in resource.roles:
            return _allow("public route")
        if not principal.authenticated:
            return _deny(principal, "sign in or send an API key")
        if (
            principal.kind == "api_key"
            and principal.scopes
            and not (principal.scopes & resource.tags)
        ):
            return _deny(principal, "this API key is not scoped for this operation")
        if ADMIN in roles or roles & resource.roles:
            return _allow()
        return _deny(principal, "requires one of the roles " + ", ".join(sorted(resource.roles)))

    if isinstance(resource, Item):
        if action == "read":
            level = resource.policy.effective_level(now)
            if level == OPEN:
                return _allow("public item")
            if roles & STAFF:
                return _allow("staff")
            if level == RESTRICTED and RESEARCHER in roles:
                return _allow("researcher")
            why = {
                RESTRICTED: "restricted to researchers and staff",
                EMBARGOED: "embargoed",
                STAFF_ONLY: "staff only",
            }.get(level, "not accessible")
            if resource.policy.reason:
                why = f"{why}: {resource.policy.reason}"
            return _deny(principal, why)
        if action == "manage":
            if principal.kind == "user" and roles & POLICY_MANAGERS:
                return _allow()
            return _deny(principal, "only administrators and cataloguers set access policies")

    if isinstance(resource, Account):
        if action == "view":
            if ADMIN in roles or (principal.kind == "user" and principal.id == resource.user_id):
                return _allow()
            return _deny(principal, "only administrators see other accounts")
        if action == "change_roles":
            if principal.kind != "user" or ADMIN not in roles:
                if principal.id == resource.user_id:
                    return _deny(principal, "you may not change your own roles")
                return _deny(principal, "only administrators change roles")
            if principal.id == resource.user_id and ADMIN not in resource.roles:
                return _deny(principal, "an administrator may not remove their own admin role")
            return _allow()

    if isinstance(resource, Administration):
        if principal.kind == "user" and ADMIN in roles:
            return _allow()
        return _deny(principal, f"only administrators manage {resource.area}")

    return _deny(principal, f"action {action!r} is not allowed here")


# usernames, passwords, secrets -------------------------------------------------------------------

USERNAME_MIN, USERNAME_MAX = 3, 64
PASSWORD_MIN, PASSWORD_MAX = 12, 1024
_USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9._@-]*[a-z0-9])?$")


def normalize_username(raw: str) -> str:
    """The canonical form of a username: NFKC, case-folded, ASCII letters/digits and ``._@-``.

    Look-alikes collapse (full-width ``ａｄｍｉｎ`` is ``admin``) and scripts that only look
    Latin (Cyrillic ``а``) are refused, so two accounts can never look the same.
    """
    if not isinstance(raw, str) or len(raw) > 4 * USERNAME_MAX:
        raise InvalidUsername("username too long")
    name = unicodedata.normalize("NFKC", raw).casefold().strip()
    name = unicodedata.normalize("NFKC", name)
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        raise InvalidUsername(f"a username has {USERNAME_MIN} to {USERNAME_MAX} characters")
    if not name.isascii() or not _USERNAME.match(name):
        raise InvalidUsername("a username uses only a-z, 0-9 and . _ @ - (inside)")
    return name


def check_password(password: str, username: str = "") -> None:
    """Refuse passwords that are too short, too long, or trivially guessable."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise WeakPassword(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if len(set(password)) < 4:
        raise WeakPassword("the password repeats too few characters")
    if username and username in password.casefold():
        raise WeakPassword("the password must not contain the username")


def check_roles(
    roles: list[str] | tuple[str, ...] | frozenset[str], allowed: frozenset[str]
) -> frozenset[str]:
    """The roles as a set, if every one is known and allowed; AccessError otherwise."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccessError(f"unknown role(s): {', '.join(unknown)}")
    refused = sorted(set(roles) - allowed)
    if refused:
        raise AccessError(f"role(s) not allowed here: {', '.join(refused)}")
    if not roles:
        raise AccessError("give at least one role")
    return frozenset(roles)


API_KEY_PREFIX = "dsn"
_API_KEY = re.compile(r"^dsn_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (API keys, refresh tokens); never of a password."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A new API key (shown once) and its public lookup prefix."""
    prefix = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_api_key(raw: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    match = _API_KEY.match(raw) if isinstance(raw, str) and len(raw) < 100 else None
    return match.group(1) if match else None


def same_secret(raw: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(raw), stored_digest)


def new_refresh_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


IIIF_SESSION_PREFIX = "is_"
#: The cookie that carries it (path ``/iiif``: the gateway's auth routes and the image server).
IIIF_SESSION_COOKIE = "disan_iiif"
#: At most this long a browser stays logged in to the IIIF access service.
IIIF_SESSION_MAX_SECONDS = 12 * 3600


def new_iiif_session() -> str:
    """The secret of an IIIF access-service session (the cookie's value), 256 bits."""
    return IIIF_SESSION_PREFIX + secrets.token_urlsafe(32)


def iiif_session_seconds(refresh_ttl_seconds: int) -> int:
    """A session lasts as long as a login's refresh tokens, at most 12 hours."""
    return max(60, min(refresh_ttl_seconds, IIIF_SESSION_MAX_SECONDS))
