"""Partner API keys and item policies against the running services."""

from __future__ import annotations

import time
import uuid
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
    assert check(platform, "record", str(uuid.uuid4()))["allowed"] is True


def test_restricted_item_admits_researchers_and_staff_only(platform, item_id):
    answer = set_policy(platform, "record", item_id, level="restricted", reason="living persons")
    assert answer.status_code == 200, answer.text
    anonymous = check(platform, "record", item_id)
    assert anonymous["allowed"] is False and anonymous["status"] == 401
    assert "living persons" in anonymous["explanation"]
    assert check(platform, "record", item_id, token=platform.token_for("researcher"))["allowed"]
    assert check(platform, "record", item_id, token=platform.token_for("reviewer"))["allowed"]
    partner = check(platform, "record", item_id, token=platform.token_for("partner"))
    assert partner["allowed"] is False and partner["status"] == 403


def test_policy_change_reaches_the_gateway_at_once_and_is_audited(platform, item_id):
    assert check(platform, "asset", item_id)["allowed"]  # cached as public now
    assert set_policy(platform, "asset", item_id, level="staff_only").status_code == 200
    # the access.policy_changed event purges the gateway's cache
    wait_until(lambda: not check(platform, "asset", item_id)["allowed"], timeout=3)
    platform.wait_audit(
        "access.policy_changed",
        lambda e: e["data"]["resource_id"] == item_id and e["data"]["level"] == "staff_only",
    )


def test_embargo_ends_by_itself_without_a_restart(platform, item_id):
    until = datetime.now(UTC) + timedelta(seconds=3)
    answer = set_policy(
        platform, "record", item_id, level="embargoed", embargo_until=until.isoformat()
    )
    assert answer.status_code == 200, answer.text
    first = check(platform, "record", item_id)
    assert first["allowed"] is False and first["level"] == "embargoed"
    assert check(platform, "record", item_id, token=platform.token_for("reviewer"))["allowed"]
    wait_until(lambda: check(platform, "record", item_id)["allowed"], timeout=10, interval=0.2)
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
def test_invalid_policies_are_422_and_change_nothing(platform, item_id, body):
    answer = set_policy(platform, "record", item_id, **body)
    assert answer.status_code == 422, answer.text
    assert platform.sql("SELECT 1 FROM policies WHERE resource_id = :id", id=item_id) == []


def test_only_policy_managers_set_policies(platform, item_id):
    for role in ("reviewer", "researcher", "partner"):
        answer = platform.request(
            "PUT",
            f"/api/v1/policies/record/{item_id}",
            token=platform.token_for(role),
            json={"level": "public"},
        )
        assert answer.status_code == 403
    assert platform.sql("SELECT 1 FROM policies WHERE resource_id = :id", id=item_id) == []


@pytest.mark.parametrize("rid", ["0", "not-a-uuid", "1" * 129, "%E2%80%AE0"])
def test_policy_ids_that_are_not_uuids_are_400_and_announce_nothing(platform, rid):
    """Issue #14: PUT /policies/asset/0 was a 200 whose event the journal could not keep."""
    answer = set_policy(platform, "asset", rid, level="staff_only")
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["details"]["reason"] == "invalid_id"
    assert set(error["details"]["text"]) == {"vi", "en"}
    token = platform.token_for("cataloguer")
    for path in (f"/api/v1/policies/asset/{rid}", f"/api/v1/access/asset/{rid}"):
        assert platform.request("GET", path, token=token).status_code == 400
    assert platform.sql("SELECT 1 FROM policies WHERE resource_id !~ '^[0-9a-f-]{36}$'") == []
    assert (
        platform.sql("SELECT 1 FROM outbox WHERE envelope->'data'->>'resource_id' = :r", r=rid)
        == []
    )


def test_the_rpc_refuses_a_policy_on_an_id_that_is_no_uuid(platform):
    """The access service checks too (other callers than the gateway: the CLI, services)."""
    admin = {"kind": "user", "id": "x", "name": "admin", "roles": ["admin"]}
    with platform.rpc() as access:
        with pytest.raises(Exception, match="resource id is a UUID"):
            access.set_policy(admin, "asset", "0", "staff_only")
