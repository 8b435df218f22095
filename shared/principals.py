"""Who may do what: the principals, roles, item policies and the one decision ``authorize``.

A contract every service shares (issue #16): the gateway decides routes and items with it, the
catalogue, iiif and notifications filter what a principal may see, the image server decides
tiles, and the access service stores the policies and users it is fed. Pure: no I/O, no
framework. The access service owns the data (users, keys, policies); this module owns only the
vocabulary and the rule, so no service has to import another to ask "may this one see that?".
"""

from __future__ import annotations

import re
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
POLICY_MANAGERS = frozenset({ADMIN, CATALOGUER})

# item policies ---------------------------------------------------------------------------------

OPEN, RESTRICTED, EMBARGOED, STAFF_ONLY = "public", "restricted", "embargoed", "staff_only"
POLICY_LEVELS = (OPEN, RESTRICTED, EMBARGOED, STAFF_ONLY)
RESOURCE_KINDS = ("record", "asset")


class AccessUnavailable(Exception):
    """The access service or the session store did not answer: fail closed."""


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


# wire forms the gateway and the image server read -------------------------------------------------

API_KEY_PREFIX = "dsn"
_API_KEY = re.compile(r"^dsn_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def parse_api_key(raw: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    match = _API_KEY.match(raw) if isinstance(raw, str) and len(raw) < 100 else None
    return match.group(1) if match else None


#: The cookie that carries an IIIF access-service session (path ``/iiif``: the gateway's auth
#: routes and the image server).
IIIF_SESSION_COOKIE = "disan_iiif"
