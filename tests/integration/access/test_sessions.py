"""Refresh, logout, and role changes: a session ends when it should, at once."""

from __future__ import annotations

import pytest

from tests.integration.access.conftest import PASSWORD
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def new_user(platform, role: str) -> tuple[dict, dict]:
    name = f"{role}-{platform.sql('SELECT gen_random_uuid()::text')[0][0][:8]}"
    created = platform.request(
        "POST",
        "/api/v1/users",
        token=platform.token_for("admin"),
        json={"username": name, "password": PASSWORD, "roles": [role]},
    )
    assert created.status_code == 201, created.text
    tokens = platform.login(name, PASSWORD, ip="198.51.100.7").json()
    platform.secrets += [tokens["access_token"], tokens["refresh_token"]]
    return created.json(), tokens


def me(platform, token):
    return platform.request("GET", "/api/v1/auth/me", token=token)


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(platform):
    _, tokens = new_user(platform, "researcher")
    first = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert first.status_code == 200, first.text
    fresh = first.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert me(platform, fresh["access_token"]).status_code == 200
    replay = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 401
    # the replay revoked the whole family, the rotated token included
    again = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
    )
    assert again.status_code == 401


@pytest.mark.parametrize("token", ["", "rt_", "rt_nonsense", "x" * 150, "rt_' OR 1=1 --"])
def test_bogus_refresh_tokens_are_401(platform, token):
    answer = platform.request("POST", "/api/v1/auth/refresh", json={"refresh_token": token})
    assert answer.status_code in (401, 422)


def test_logout_stops_the_access_token_and_the_refresh_token(platform):
    _, tokens = new_user(platform, "reviewer")
    assert me(platform, tokens["access_token"]).status_code == 200
    out = platform.request(
        "POST",
        "/api/v1/auth/logout",
        token=tokens["access_token"],
        json={"refresh_token": tokens["refresh_token"]},
    )
    assert out.status_code == 200, out.text
    wait_until(lambda: me(platform, tokens["access_token"]).status_code == 401, timeout=3)
    answer = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert answer.status_code == 401
    platform.wait_audit("access.logged_out")


def test_demoted_user_loses_access_at_once(platform):
    user, tokens = new_user(platform, "cataloguer")
    token = tokens["access_token"]
    assert platform.request("GET", "/api/v1/policies/record/x", token=token).status_code == 200
    answer = platform.request(
        "PUT",
        f"/api/v1/users/{user['id']}/roles",
        token=platform.token_for("admin"),
        json={"roles": ["researcher"]},
    )
    assert answer.status_code == 200 and answer.json()["roles"] == ["researcher"]
    # the old token carried "cataloguer": it is refused once the change is known
    wait_until(lambda: me(platform, token).status_code == 401, timeout=3)
    relogin = platform.login(user["username"], PASSWORD, ip="198.51.100.8").json()
    platform.secrets.append(relogin["access_token"])
    assert me(platform, relogin["access_token"]).json()["roles"] == ["researcher"]
    denied = platform.request("GET", "/api/v1/policies/record/x", token=relogin["access_token"])
    assert denied.status_code == 403
    platform.wait_audit("access.user_roles_changed", lambda e: e["data"]["user_id"] == user["id"])


def test_unknown_roles_are_refused(platform):
    user, _ = new_user(platform, "researcher")
    answer = platform.request(
        "PUT",
        f"/api/v1/users/{user['id']}/roles",
        token=platform.token_for("admin"),
        json={"roles": ["superuser"]},
    )
    assert answer.status_code == 422
