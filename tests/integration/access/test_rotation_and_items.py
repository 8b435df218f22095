"""Signing-key rotation on a running gateway, and item checks inside other routes."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.http import ApiRequest, api
from services.gateway.service import GatewayService
from shared.auth import issue_access_token
from tests.integration.access.conftest import start_platform
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

OLD = "the-previous-signing-secret-0123456789abcd"
NEW = "the-current-signing-secret-0123456789abcde"


class ItemGateway(GatewayService):
    """A gateway with a route guarding a record the way catalogue and media routes do."""

    @api("GET", "/test/records/<record_id>", summary="a record", roles=("public",))
    def show_record(self, request: ApiRequest, record_id: str) -> Any:
        policy = self.gate.require_item(request, "record", record_id)
        return {"id": record_id, "level": policy.level}


@pytest.fixture(scope="module")
def rotated(settings):
    platform, stop = start_platform(
        settings,
        overrides={"token_secret": NEW, "token_kid": "k2", "previous_token_keys": f"k1={OLD}"},
        gateway_base=ItemGateway,
    )
    yield platform
    stop()


def token(secret: str, kid: str) -> str:
    value, _ = issue_access_token(
        {kid: secret}, kid, subject="u-rot", username="lan", roles=["researcher"], ttl_seconds=60
    )
    return value


def test_tokens_of_the_current_and_the_previous_key_are_accepted(rotated):
    for secret, kid in ((NEW, "k2"), (OLD, "k1")):
        answer = rotated.request("GET", "/api/v1/auth/me", token=token(secret, kid))
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == "u-rot"


def test_new_logins_are_signed_with_the_current_key(rotated):
    import jwt

    header = jwt.get_unverified_header(rotated.token_for("admin"))
    assert header == {"alg": "HS256", "kid": "k2", "typ": "JWT"}


def test_previous_secret_under_the_current_kid_is_refused(rotated):
    answer = rotated.request("GET", "/api/v1/auth/me", token=token(OLD, "k2"))
    assert answer.status_code == 401


def test_require_item_guards_a_route_by_the_items_policy(rotated, item_id):
    path = f"/test/records/{item_id}"
    assert rotated.request("GET", path).json() == {"id": item_id, "level": "public"}
    answer = rotated.request(
        "PUT",
        f"/api/v1/policies/record/{item_id}",
        token=rotated.token_for("cataloguer"),
        json={"level": "restricted", "reason": "fragile manuscript"},
    )
    assert answer.status_code == 200
    # the policy_changed event purges the gateway's cached policy
    wait_until(lambda: rotated.request("GET", path).status_code == 401, timeout=3)
    anonymous = rotated.request("GET", path)
    assert "fragile manuscript" in anonymous.json()["error"]["message"]
    assert rotated.request("GET", path, token=rotated.token_for("partner")).status_code == 403
    assert rotated.request("GET", path, token=rotated.token_for("researcher")).status_code == 200
    rotated.wait_audit(
        "access.request_denied", lambda e: e["data"]["path"] == path and e["data"]["status"] == 401
    )
