"""The access.policy_changed contract takes only UUIDs: an event the journal cannot key is
refused where it is made, not dead-lettered downstream (issue #14)."""

from __future__ import annotations

import uuid

import pytest

import shared.contracts  # noqa: F401 - registers the contracts
from shared.events import EventError, make_event


def policy(resource_id: str) -> dict[str, object]:
    return {"resource_kind": "asset", "resource_id": resource_id, "level": "staff_only"}


@pytest.mark.parametrize("resource_id", ["0", "t1234567890", "x" * 128, ""])
def test_a_policy_change_about_no_uuid_is_refused_where_it_is_made(resource_id: str) -> None:
    with pytest.raises(EventError, match="resource_id"):
        make_event("access.policy_changed", policy(resource_id), producer="access")


def test_a_policy_change_about_a_uuid_is_kept_in_canonical_form() -> None:
    rid = uuid.uuid4()
    event = make_event("access.policy_changed", policy(str(rid).upper()), producer="access")
    assert event.data["resource_id"] == str(rid)
