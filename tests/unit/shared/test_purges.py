from __future__ import annotations

import json

import pytest

from shared.purges import purge_target


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "media.derivative_ready", "data": {"asset_id": "a1"}}, (True, "a1")),
        (json.dumps({"type": "media.asset_failed", "data": {"asset_id": "a2"}}), (True, "a2")),
        ({"type": "access.policy_changed", "data": {"asset_id": "a3"}}, (True, "a3")),
        ({"type": "access.policy_changed", "data": {"record_id": "r1"}}, (True, None)),
        (
            {
                "type": "access.policy_changed",
                "data": {"resource_kind": "asset", "resource_id": "a4"},
            },
            (True, "a4"),
        ),
        (
            {
                "type": "access.policy_changed",
                "data": {"resource_kind": "record", "resource_id": "r2"},
            },
            (True, None),
        ),
        ({"type": "access.logged_out", "data": {"user_id": "u1"}}, (True, None)),
        ({"type": "media.fixity_failed", "data": {}}, (False, None)),
        (b"not json", (False, None)),
        ([1, 2], (False, None)),
        ({"type": "media.x", "data": "nope"}, (False, None)),
    ],
)
def test_purge_targets_come_from_the_event_data(body: object, expected: object) -> None:
    assert purge_target(body) == expected
