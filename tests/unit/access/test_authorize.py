"""``authorize`` as a table: principal × action × resource → allowed / 401 / 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.principals import (
    ANONYMOUS,
    Account,
    Administration,
    Item,
    Policy,
    Principal,
    Route,
    authorize,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def user(*roles: str, uid: str = "u1") -> Principal:
    return Principal("user", uid, f"user-{uid}", frozenset(roles))


def key(*roles: str, scopes: tuple[str, ...] = ()) -> Principal:
    return Principal("api_key", "k1", "LGSP", frozenset(roles), frozenset(scopes))


ADMIN = user("admin", uid="a1")
CATALOGUER = user("cataloguer", uid="c1")
REVIEWER = user("reviewer", uid="r1")
RESEARCHER = user("researcher", uid="s1")
PARTNER_USER = user("partner", uid="p1")
PARTNER_KEY = key("partner")
SCOPED_KEY = key("partner", scopes=("records",))

PUBLIC_ROUTE = Route(frozenset({"public"}), frozenset({"records"}))
STAFF_ROUTE = Route(frozenset({"admin", "cataloguer", "reviewer"}), frozenset({"records"}))
ADMIN_ROUTE = Route(frozenset({"admin"}), frozenset({"users"}))
PARTNER_ROUTE = Route(frozenset({"partner", "researcher"}), frozenset({"records"}))
PARTNER_MEDIA_ROUTE = Route(frozenset({"partner"}), frozenset({"media"}))

OPEN = Item("record", "r", Policy("public"))
RESTRICTED = Item("record", "r", Policy("restricted", reason="living persons"))
STAFF_ONLY = Item("asset", "a", Policy("staff_only"))
EMBARGO_FUTURE = Item("record", "r", Policy("embargoed", NOW + timedelta(days=1)))
EMBARGO_PAST = Item("record", "r", Policy("embargoed", NOW - timedelta(seconds=1)))
EMBARGO_NOW = Item("record", "r", Policy("embargoed", NOW))

CASES = [
    # routes
    (ANONYMOUS, "call", PUBLIC_ROUTE, 200),
    (ANONYMOUS, "call", STAFF_ROUTE, 401),
    (ANONYMOUS, "call", ADMIN_ROUTE, 401),
    (RESEARCHER, "call", STAFF_ROUTE, 403),
    (PARTNER_KEY, "call", STAFF_ROUTE, 403),
    (CATALOGUER, "call", STAFF_ROUTE, 200),
    (REVIEWER, "call", STAFF_ROUTE, 200),
    (CATALOGUER, "call", ADMIN_ROUTE, 403),
    (ADMIN, "call", ADMIN_ROUTE, 200),
    (ADMIN, "call", PARTNER_ROUTE, 200),  # administrators may call everything
    (PARTNER_KEY, "call", PARTNER_ROUTE, 200),
    (PARTNER_USER, "call", PARTNER_ROUTE, 200),
    (SCOPED_KEY, "call", PARTNER_ROUTE, 200),
    (SCOPED_KEY, "call", PARTNER_MEDIA_ROUTE, 403),  # outside the key's scopes
    (PARTNER_KEY, "call", PARTNER_MEDIA_ROUTE, 200),  # an unscoped key
    (key("admin"), "call", ADMIN_ROUTE, 200),  # roles are what they are; keys never get admin
    (user(), "call", STAFF_ROUTE, 403),  # a user without roles
    (ANONYMOUS, "delete", PUBLIC_ROUTE, 401),  # unknown action on a route: denied
    (ADMIN, "delete", PUBLIC_ROUTE, 403),
    # reading items
    (ANONYMOUS, "read", OPEN, 200),
    (PARTNER_KEY, "read", OPEN, 200),
    (ANONYMOUS, "read", RESTRICTED, 401),
    (PARTNER_KEY, "read", RESTRICTED, 403),
    (PARTNER_USER, "read", RESTRICTED, 403),
    (RESEARCHER, "read", RESTRICTED, 200),
    (key("researcher"), "read", RESTRICTED, 200),
    (REVIEWER, "read", RESTRICTED, 200),
    (ANONYMOUS, "read", STAFF_ONLY, 401),
    (RESEARCHER, "read", STAFF_ONLY, 403),
    (CATALOGUER, "read", STAFF_ONLY, 200),
    (ADMIN, "read", STAFF_ONLY, 200),
    (ANONYMOUS, "read", EMBARGO_FUTURE, 401),
    (RESEARCHER, "read", EMBARGO_FUTURE, 403),
    (REVIEWER, "read", EMBARGO_FUTURE, 200),
    (ANONYMOUS, "read", EMBARGO_PAST, 200),  # the embargo has ended: public
    (ANONYMOUS, "read", EMBARGO_NOW, 200),  # ends exactly at its date
    # managing item policies
    (CATALOGUER, "manage", OPEN, 200),
    (ADMIN, "manage", STAFF_ONLY, 200),
    (REVIEWER, "manage", OPEN, 403),
    (RESEARCHER, "manage", RESTRICTED, 403),
    (key("partner", "researcher"), "manage", OPEN, 403),
    (ANONYMOUS, "manage", OPEN, 401),
    (ANONYMOUS, "delete", OPEN, 401),
    # accounts: viewing and role changes
    (CATALOGUER, "view", Account("c1"), 200),
    (CATALOGUER, "view", Account("a1"), 403),
    (ADMIN, "view", Account("c1"), 200),
    (CATALOGUER, "change_roles", Account("c1", frozenset({"admin"})), 403),  # self-escalation
    (RESEARCHER, "change_roles", Account("s1", frozenset({"cataloguer"})), 403),
    (CATALOGUER, "change_roles", Account("s1", frozenset({"cataloguer"})), 403),
    (key("partner"), "change_roles", Account("k1", frozenset({"admin"})), 403),
    (ANONYMOUS, "change_roles", Account("u1", frozenset({"admin"})), 401),
    (ADMIN, "change_roles", Account("c1", frozenset({"reviewer"})), 200),
    (ADMIN, "change_roles", Account("a1", frozenset({"admin", "reviewer"})), 200),
    (ADMIN, "change_roles", Account("a1", frozenset({"reviewer"})), 403),  # last-admin guard
    # administration
    (ADMIN, "manage", Administration("users"), 200),
    (CATALOGUER, "manage", Administration("users"), 403),
    (key("partner"), "manage", Administration("API keys"), 403),
    (ANONYMOUS, "manage", Administration("audit"), 401),
]


@pytest.mark.parametrize(("principal", "action", "resource", "status"), CASES)
def test_authorize_table(principal, action, resource, status):
    decision = authorize(principal, action, resource, NOW)
    assert decision.status == status, decision.reason
    assert decision.allowed == (status == 200)
    assert decision.reason


def test_denial_names_the_policy_reason():
    decision = authorize(ANONYMOUS, "read", RESTRICTED, NOW)
    assert "living persons" in decision.reason


def test_embargo_flips_with_the_clock_alone():
    item = Item("record", "r", Policy("embargoed", NOW))
    assert authorize(ANONYMOUS, "read", item, NOW - timedelta(microseconds=1)).status == 401
    assert authorize(ANONYMOUS, "read", item, NOW).allowed


def test_principal_round_trips_through_a_dict():
    assert Principal.from_dict(SCOPED_KEY.to_dict()) == SCOPED_KEY
    assert SCOPED_KEY.subject == "key:k1" and ADMIN.subject == "user:a1"
    assert ANONYMOUS.subject == "anonymous"
