"""Refresh, logout, and role changes: a session ends when it should, at once."""

from __future__ import annotations

import pytest

from tests.integration.access.conftest import PASSWORD
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

SOME_POLICY = "/api/v1/policies/record/00000000-0000-4000-8000-000000000001"


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
    assert platform.request("GET", SOME_POLICY, token=token).status_code == 200
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
    denied = platform.request("GET", SOME_POLICY, token=relogin["access_token"])
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


def test_password_change_ends_every_session_and_needs_the_current_password(platform):
    user, tokens = new_user(platform, "reviewer")
    token = tokens["access_token"]
    new_password = "an entirely new passphrase 7"
    platform.secrets.append(new_password)
    wrong = platform.request(
        "POST",
        "/api/v1/auth/password",
        token=token,
        json={"current_password": "not my password at all", "new_password": new_password},
    )
    assert wrong.status_code == 403
    weak = platform.request(
        "POST",
        "/api/v1/auth/password",
        token=token,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    assert me(platform, token).status_code == 200  # nothing changed so far
    done = platform.request(
        "POST",
        "/api/v1/auth/password",
        token=token,
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert done.status_code == 200, done.text
    wait_until(lambda: me(platform, token).status_code == 401, timeout=3)
    refresh = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert platform.login(user["username"], PASSWORD, ip="198.51.100.9").status_code == 401
    again = platform.login(user["username"], new_password, ip="198.51.100.9")
    assert again.status_code == 200
    platform.secrets += [again.json()["access_token"], again.json()["refresh_token"]]
    platform.wait_audit("access.password_changed", lambda e: e["data"]["user_id"] == user["id"])


def test_api_keys_have_no_password_to_change(platform):
    key = platform.new_key(name="no password")["key"]
    answer = platform.request(
        "POST",
        "/api/v1/auth/password",
        key=key,
        json={"current_password": "x" * 12, "new_password": "y" * 12},
    )
    assert answer.status_code == 403


def test_disabled_user_is_locked_out_at_once_and_can_be_enabled_again(platform):
    user, tokens = new_user(platform, "researcher")
    admin = platform.token_for("admin")
    answer = platform.request(
        "PUT", f"/api/v1/users/{user['id']}/disabled", token=admin, json={"disabled": True}
    )
    assert answer.status_code == 200 and answer.json()["disabled"] is True
    wait_until(lambda: me(platform, tokens["access_token"]).status_code == 401, timeout=3)
    assert platform.login(user["username"], PASSWORD, ip="198.51.100.10").status_code == 401
    answer = platform.request(
        "PUT", f"/api/v1/users/{user['id']}/disabled", token=admin, json={"disabled": False}
    )
    assert answer.status_code == 200
    back = platform.login(user["username"], PASSWORD, ip="198.51.100.10")
    assert back.status_code == 200
    platform.secrets += [back.json()["access_token"], back.json()["refresh_token"]]
    platform.wait_audit("access.user_disabled", lambda e: e["data"]["user_id"] == user["id"])


def test_admin_may_not_disable_themself(platform):
    admin = platform.token_for("admin")
    me_id = me(platform, admin).json()["id"]
    answer = platform.request(
        "PUT", f"/api/v1/users/{me_id}/disabled", token=admin, json={"disabled": True}
    )
    assert answer.status_code == 403
    assert me(platform, admin).status_code == 200
