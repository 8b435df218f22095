"""An asset's policy: its own wins, else its record's, else public."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.access.domain import DEFAULT_POLICY, Item, Policy, Principal, asset_policy, authorize

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RESTRICTED = Policy("restricted", reason="living persons")
PUBLIC = Policy("public")
STAFF = Policy("staff_only")


@pytest.mark.parametrize(
    ("own", "record", "expected", "inherited"),
    [
        (None, None, DEFAULT_POLICY, False),
        (None, RESTRICTED, RESTRICTED, True),
        (None, PUBLIC, PUBLIC, True),
        (PUBLIC, RESTRICTED, PUBLIC, False),  # an explicit asset policy wins, even if more open
        (STAFF, PUBLIC, STAFF, False),
        (RESTRICTED, None, RESTRICTED, False),
    ],
)
def test_asset_policy(
    own: Policy | None, record: Policy | None, expected: Policy, inherited: bool
) -> None:
    assert asset_policy(own, record) == (expected, inherited)


def test_an_inherited_restriction_refuses_the_public_and_admits_researchers() -> None:
    policy, _ = asset_policy(None, RESTRICTED)
    item = Item("asset", "a", policy)
    anonymous = authorize(Principal("anonymous"), "read", item, NOW)
    assert not anonymous.allowed and anonymous.status == 401
    researcher = Principal("user", "u", "u", frozenset({"researcher"}))
    assert authorize(researcher, "read", item, NOW).allowed
