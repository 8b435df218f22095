"""An asset's policy: its own wins; else staff only while its record is unpublished; else its
record's; else public."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.principals import (
    DEFAULT_POLICY,
    UNPUBLISHED,
    Item,
    Policy,
    Principal,
    asset_policy,
    authorize,
)

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


@pytest.mark.parametrize(
    ("own", "record", "published", "expected", "inherited"),
    [
        (None, None, False, UNPUBLISHED, True),  # a draft, withdrawn or deleted record's image
        (None, PUBLIC, False, UNPUBLISHED, True),  # its policy says public, its state does not
        (None, RESTRICTED, False, UNPUBLISHED, True),
        (None, RESTRICTED, True, RESTRICTED, True),
        (None, None, True, DEFAULT_POLICY, False),
        (None, RESTRICTED, None, RESTRICTED, True),  # state not known: as before
        (PUBLIC, None, False, PUBLIC, False),  # an explicit asset policy still wins
    ],
)
def test_asset_policy_by_record_state(
    own: Policy | None,
    record: Policy | None,
    published: bool | None,
    expected: Policy,
    inherited: bool,
) -> None:
    assert asset_policy(own, record, published) == (expected, inherited)


def test_an_unpublished_records_image_is_for_staff_only() -> None:
    policy, _ = asset_policy(None, PUBLIC, record_published=False)
    item = Item("asset", "a", policy)
    assert authorize(Principal("anonymous"), "read", item, NOW).status == 401
    researcher = Principal("user", "u", "u", frozenset({"researcher"}))
    assert not authorize(researcher, "read", item, NOW).allowed
    cataloguer = Principal("user", "c", "c", frozenset({"cataloguer"}))
    assert authorize(cataloguer, "read", item, NOW).allowed
