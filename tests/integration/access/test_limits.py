"""Brute force: lockout per account and rate limits per IP and per API key, kept in Redis."""

from __future__ import annotations

import time

import pytest

from tests.integration.access.conftest import PASSWORD, start_platform

pytestmark = pytest.mark.integration


def fresh_window(margin: float = 15.0) -> None:
    """Start a burst well inside one fixed one-minute window of the limiter."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.1)


@pytest.fixture(scope="module")
def strict(settings):
    platform, stop = start_platform(
        settings,
        overrides={"lockout_threshold": 3, "lockout_seconds": 60},
    )
    yield platform
    stop()


def test_account_locks_after_repeated_failures_even_for_the_right_password(strict):
    strict.token_for("researcher")  # creates the account
    name = strict.users["researcher"]["username"]
    for i in range(3):
        answer = strict.login(name, f"wrong password {i}", ip=f"203.0.113.{i}")
        assert answer.status_code == 401
    locked = strict.login(name, PASSWORD, ip="203.0.113.99")
    assert locked.status_code == 429, locked.text
    assert "access_token" not in locked.text
    strict.wait_audit("access.user_locked", lambda e: e["data"]["username"] == name)


def test_unknown_accounts_lock_the_same_way(strict):
    """No difference between existing and unknown names: nothing to enumerate."""
    for _ in range(3):
        assert strict.login("nobody-here", "whatever it is", ip="203.0.113.50").status_code == 401
    assert strict.login("nobody-here", "whatever it is", ip="203.0.113.51").status_code == 429


def test_login_is_rate_limited_per_ip(settings):
    platform, stop = start_platform(settings, overrides={"login_per_minute": 5})
    try:
        fresh_window()
        codes = [
            platform.login(f"user{i}", "wrong password!", ip="198.18.0.1").status_code
            for i in range(7)
        ]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
        limited = platform.login("user9", "wrong password!", ip="198.18.0.1")
        assert int(limited.headers["Retry-After"]) >= 1
        assert platform.login("user9", "wrong password!", ip="198.18.0.2").status_code == 401
        keys = list(platform.redis.scan_iter(f"{platform.prefix}rl:login:*"))
        assert keys  # the counters are in Redis, shared by every gateway
    finally:
        stop()


def test_anonymous_and_api_key_requests_are_rate_limited(settings):
    platform, stop = start_platform(
        settings, overrides={"public_per_minute": 5, "api_key_per_minute": 4}
    )
    try:
        path = "/api/v1/access/record/00000000-0000-4000-8000-000000000001"
        fresh_window()
        codes = [
            platform.request("GET", path, headers={"X-Real-IP": "198.18.1.1"}).status_code
            for _ in range(6)
        ]
        assert codes == [200] * 5 + [429]
        key = platform.new_key(name="busy partner")["key"]
        fresh_window()
        codes = [platform.request("GET", path, key=key).status_code for _ in range(5)]
        assert codes == [200] * 4 + [429]
        # signed-in staff are not throttled by the anonymous limit
        token = platform.token_for("reviewer")
        assert all(
            platform.request("GET", path, token=token, headers={"X-Real-IP": "198.18.1.1"}).ok
            for _ in range(3)
        )
    finally:
        stop()


def test_guessing_api_keys_is_limited_per_address(settings):
    platform, stop = start_platform(settings, overrides={"public_per_minute": 3})
    try:
        fresh_window()
        guesses = [f"dsn_{i:012x}_" + "a" * 43 for i in range(5)]
        codes = [
            platform.request(
                "GET", "/api/v1/auth/me", key=g, headers={"X-Real-IP": "198.18.2.1"}
            ).status_code
            for g in guesses
        ]
        assert codes == [401, 401, 401, 429, 429]
    finally:
        stop()
