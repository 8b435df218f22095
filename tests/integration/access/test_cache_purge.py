"""The gateway's caches are purged by the access service's events, not just by their TTL:
with a one-minute cache, changes still reach the gateway within about a second."""

from __future__ import annotations

import time

import pytest

from tests.integration.access.conftest import start_platform
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

SOME_POLICY = "/api/v1/policies/record/00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def long_cache(settings):
    platform, stop = start_platform(settings, cache_seconds=60)
    yield platform
    stop()


def elapsed_until(predicate, timeout: float = 5) -> float:
    start = time.monotonic()
    wait_until(predicate, timeout=timeout, interval=0.02)
    return time.monotonic() - start


def test_policy_change_purges_the_cached_policy(long_cache, item_id):
    path = f"/api/v1/access/record/{item_id}"
    assert long_cache.request("GET", path).json()["allowed"]  # cached as public for a minute
    answer = long_cache.request(
        "PUT",
        f"/api/v1/policies/record/{item_id}",
        token=long_cache.token_for("cataloguer"),
        json={"level": "staff_only"},
    )
    assert answer.status_code == 200
    took = elapsed_until(lambda: not long_cache.request("GET", path).json()["allowed"])
    assert took < 2


def test_revocation_purges_the_cached_key(long_cache):
    created = long_cache.new_key(name="cached partner")
    assert long_cache.request("GET", "/api/v1/auth/me", key=created["key"]).status_code == 200
    long_cache.request(
        "DELETE", f"/api/v1/apikeys/{created['id']}", token=long_cache.token_for("admin")
    )
    took = elapsed_until(
        lambda: long_cache.request("GET", "/api/v1/auth/me", key=created["key"]).status_code == 401
    )
    assert took < 2


def test_role_change_purges_the_cached_token(long_cache):
    token = long_cache.token_for("reviewer")
    assert long_cache.request("GET", SOME_POLICY, token=token).status_code == 200
    user = long_cache.users["reviewer"]
    long_cache.request(
        "PUT",
        f"/api/v1/users/{user['id']}/roles",
        token=long_cache.token_for("admin"),
        json={"roles": ["researcher"]},
    )
    took = elapsed_until(
        lambda: long_cache.request("GET", "/api/v1/auth/me", token=token).status_code == 401
    )
    assert took < 2
