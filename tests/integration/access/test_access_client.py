"""``AccessClient``: the same item decisions for HTTP surfaces outside nameko."""

from __future__ import annotations

import time

import pytest

from shared.access_client import AccessClient, AccessUnavailable
from shared.auth import issue_access_token

pytestmark = pytest.mark.integration


@pytest.fixture
def client(platform):
    client = AccessClient(platform.settings, platform.access_name, cache_seconds=60)
    yield client
    client.close()


def test_decisions_follow_the_policy_and_the_token(platform, client, item_id):
    assert client.decide(None, "asset", item_id).allowed  # no policy: public
    answer = platform.request(
        "PUT",
        f"/api/v1/policies/asset/{item_id}",
        token=platform.token_for("cataloguer"),
        json={"level": "restricted", "reason": "donor's wish"},
    )
    assert answer.status_code == 200
    client.purge("asset", item_id)  # what a consumer of access.policy_changed does
    anonymous = client.decide(None, "asset", item_id)
    assert (anonymous.allowed, anonymous.status) == (False, 401)
    assert "donor's wish" in anonymous.reason
    assert client.decide(platform.token_for("researcher"), "asset", item_id).allowed
    partner = client.decide(platform.token_for("partner"), "asset", item_id)
    assert (partner.allowed, partner.status) == (False, 403)


def test_bad_and_revoked_tokens_are_401(platform, client, unique):
    keys = platform.settings.access.signing_keys()
    expired, _ = issue_access_token(
        keys,
        platform.settings.access.token_kid,
        subject="x",
        username="x",
        roles=["admin"],
        ttl_seconds=5,
        now=time.time() - 60,
    )
    for token in ("garbage", expired, "a.b.c"):
        decision = client.decide(token, "asset", unique)
        assert (decision.allowed, decision.status) == (False, 401)


def test_unreachable_access_service_fails_closed(platform, unique):
    client = AccessClient(platform.settings, f"{unique}-nobody", rpc_timeout=1)
    try:
        with pytest.raises(AccessUnavailable):
            client.decide(None, "asset", unique)
    finally:
        client.close()
