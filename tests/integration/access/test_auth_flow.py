"""Signing in and out over real HTTP: tokens, refresh, logout, lockout, rate limits."""

from __future__ import annotations

import pytest

from tests.integration.access.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.integration


def test_first_admin_logs_in_and_gets_a_bearer_token(platform):
    answer = platform.login("admin", ADMIN_PASSWORD)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == platform.settings.access.token_ttl_seconds
    assert answer.headers["Cache-Control"] == "no-store"
    me = platform.request("GET", "/api/v1/auth/me", token=body["access_token"])
    assert me.status_code == 200
    assert me.json()["roles"] == ["admin"] and me.json()["name"] == "admin"


def test_wrong_password_is_401_and_audited(platform):
    answer = platform.login("admin", "not the password at all")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    platform.wait_audit("access.login_failed", lambda e: e["data"]["username"] == "admin")
