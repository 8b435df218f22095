"""Partner API keys and item policies against the running services."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def test_partner_key_authenticates_and_records_its_use(platform):
    created = platform.new_key(name="Sở VHTT", roles=["partner"])
    assert created["key"].startswith("dsn_") and created["active"]
    me = platform.request("GET", "/api/v1/auth/me", key=created["key"])
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "api_key" and me.json()["roles"] == ["partner"]
    listed = platform.request("GET", "/api/v1/apikeys", token=platform.token_for("admin"))
    (row,) = [k for k in listed.json()["items"] if k["id"] == created["id"]]
    assert row["last_used_at"] is not None
    assert "key" not in row and created["key"] not in listed.text
    stored = platform.sql("SELECT secret_hash FROM api_keys WHERE id = :id", id=created["id"])
    assert created["key"] not in str(stored)
    platform.wait_audit("access.api_key_used", lambda e: e["data"]["key_id"] == created["id"])


def test_revoked_key_stops_working_within_five_seconds(platform):
    created = platform.new_key(name="LGSP", roles=["partner"])
    for _ in range(3):  # warm the gateway's cache: the key is known-good there
        assert platform.request("GET", "/api/v1/auth/me", key=created["key"]).status_code == 200
    revoked_at = time.monotonic()
    answer = platform.request(
        "DELETE", f"/api/v1/apikeys/{created['id']}", token=platform.token_for("admin")
    )
    assert answer.status_code == 200 and answer.json()["revoked_at"]

    def refused():
        return platform.request("GET", "/api/v1/auth/me", key=created["key"]).status_code == 401

    wait_until(refused, timeout=5, interval=0.05)
    assert time.monotonic() - revoked_at < 5
    time.sleep(platform.settings.access.cache_seconds + 0.2)
    assert refused()  # and it stays refused
    platform.wait_audit("access.api_key_revoked", lambda e: e["data"]["key_id"] == created["id"])


def test_expired_key_is_refused(platform):
    created = platform.new_key(
        name="short-lived", expires_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    )
    assert platform.request("GET", "/api/v1/auth/me", key=created["key"]).status_code == 200
    time.sleep(1.2 + platform.settings.access.cache_seconds)
    answer = platform.request("GET", "/api/v1/auth/me", key=created["key"])
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_scoped_key_only_reaches_its_tags(platform):
    created = platform.new_key(name="records only", roles=["partner"], scopes=["records"])
    answer = platform.request("GET", "/api/v1/auth/me", key=created["key"])
    assert answer.status_code == 403  # /auth/me is tagged "auth", outside the key's scopes


def check(platform, kind, rid, **auth):
    answer = platform.request("GET", f"/api/v1/access/{kind}/{rid}", **auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def set_policy(platform, kind, rid, **body):
    return platform.request(
        "PUT", f"/api/v1/policies/{kind}/{rid}", token=platform.token_for("cataloguer"), json=body
    )


def test_items_without_a_policy_are_public(platform):
    assert check(platform, "record", "never-set")["allowed"] is True


def test_restricted_item_admits_researchers_and_staff_only(platform, unique):
    answer = set_policy(platform, "record", unique, level="restricted", reason="living persons")
    assert answer.status_code == 200, answer.text
    anonymous = check(platform, "record", unique)
    assert anonymous["allowed"] is False and anonymous["status"] == 401
    assert "living persons" in anonymous["explanation"]
    assert check(platform, "record", unique, token=platform.token_for("researcher"))["allowed"]
    assert check(platform, "record", unique, token=platform.token_for("reviewer"))["allowed"]
    partner = check(platform, "record", unique, token=platform.token_for("partner"))
    assert partner["allowed"] is False and partner["status"] == 403


def test_policy_change_reaches_the_gateway_at_once_and_is_audited(platform, unique):
    assert check(platform, "asset", unique)["allowed"]  # cached as public now
    assert set_policy(platform, "asset", unique, level="staff_only").status_code == 200
    # the access.policy_changed event purges the gateway's cache
    wait_until(lambda: not check(platform, "asset", unique)["allowed"], timeout=3)
    platform.wait_audit(
        "access.policy_changed",
        lambda e: e["data"]["resource_id"] == unique and e["data"]["level"] == "staff_only",
    )


def test_embargo_ends_by_itself_without_a_restart(platform, unique):
    until = datetime.now(UTC) + timedelta(seconds=3)
    answer = set_policy(
        platform, "record", unique, level="embargoed", embargo_until=until.isoformat()
    )
    assert answer.status_code == 200, answer.text
    first = check(platform, "record", unique)
    assert first["allowed"] is False and first["level"] == "embargoed"
    assert check(platform, "record", unique, token=platform.token_for("reviewer"))["allowed"]
    wait_until(lambda: check(platform, "record", unique)["allowed"], timeout=10, interval=0.2)
    assert datetime.now(UTC) >= until


@pytest.mark.parametrize(
    "body",
    [
        {"level": "secret"},
        {"level": "embargoed"},  # without a date
        {"level": "public", "embargo_until": "2030-01-01"},
        {"level": "embargoed", "embargo_until": "next tuesday"},
        {"level": "public", "reason": "x" * 1001},
    ],
)
def test_invalid_policies_are_422_and_change_nothing(platform, unique, body):
    answer = set_policy(platform, "record", unique, **body)
    assert answer.status_code == 422, answer.text
    assert platform.sql("SELECT 1 FROM policies WHERE resource_id = :id", id=unique) == []


def test_only_policy_managers_set_policies(platform, unique):
    for role in ("reviewer", "researcher", "partner"):
        answer = platform.request(
            "PUT",
            f"/api/v1/policies/record/{unique}",
            token=platform.token_for(role),
            json={"level": "public"},
        )
        assert answer.status_code == 403
    assert platform.sql("SELECT 1 FROM policies WHERE resource_id = :id", id=unique) == []
