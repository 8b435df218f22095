"""Passwords, tokens and API keys never reach the logs, the audit log or the outbox."""

from __future__ import annotations

import json

import pytest

from tests.integration.access.conftest import ADMIN_PASSWORD, PASSWORD
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

WRONG = "Almost-the-right-passw0rd"


def test_no_secret_appears_in_logs_audit_or_outbox(platform):
    secrets = [ADMIN_PASSWORD, PASSWORD, WRONG, platform.settings.access.token_secret]
    admin = platform.token_for("admin")
    researcher = platform.token_for("researcher")
    name = platform.users["researcher"]["username"]
    # a day's worth of traffic: good and bad logins, refresh, logout, keys used and revoked
    assert platform.login(name, WRONG, ip="192.0.2.77").status_code == 401
    assert platform.login("admin", WRONG, ip="192.0.2.78").status_code == 401
    session = platform.login(name, PASSWORD, ip="192.0.2.79").json()
    refreshed = platform.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    ).json()
    platform.request(
        "POST",
        "/api/v1/auth/logout",
        token=refreshed["access_token"],
        json={"refresh_token": refreshed["refresh_token"]},
    )
    key = platform.new_key(name="log test partner")
    platform.request("GET", "/api/v1/auth/me", key=key["key"])
    platform.request("GET", "/api/v1/auth/me", key=key["key"][:-2] + "xx")
    platform.request("DELETE", f"/api/v1/apikeys/{key['id']}", token=admin)
    platform.request("GET", "/api/v1/users", token=researcher)
    platform.request("GET", "/api/v1/users", token=researcher + "tampered")
    secrets += [
        session["access_token"],
        session["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        key["key"],
        key["key"][:-2] + "xx",
        *platform.secrets,
    ]
    platform.wait_audit("access.api_key_revoked", lambda e: e["data"]["key_id"] == key["id"])
    wait_until(lambda: platform.sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0)

    logs = "\n".join(platform.log_capture.lines)
    assert "auth_token" in logs or "/api/v1/auth/token" in logs  # the capture did see traffic
    audit = json.dumps(platform.audit(limit=1000))
    outbox = json.dumps([r[0] for r in platform.sql("SELECT envelope FROM outbox")])
    for secret in secrets:
        assert secret not in logs, "a secret was logged"
        assert secret not in audit, "a secret is in the audit log"
        assert secret not in outbox, "a secret is in an event"
        # nor its distinctive middle part (a key or token cut and logged in pieces)
        if len(secret) >= 40:
            middle = secret[len(secret) // 2 - 10 : len(secret) // 2 + 10]
            assert middle not in logs and middle not in audit and middle not in outbox
