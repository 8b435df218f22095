"""Guessing in parallel and from one source: attempts are counted before the password is
checked, so parallel guesses meet the lockout as sequential ones do (issue #14, ADR 0036)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.access.conftest import PASSWORD, start_platform

pytestmark = pytest.mark.integration

LOCK_SECONDS = 6


@pytest.fixture(scope="module")
def guarded(settings):
    platform, stop = start_platform(
        settings, overrides={"lockout_seconds": LOCK_SECONDS, "login_per_minute": 1000}
    )
    yield platform
    stop()


def owner(platform, role: str) -> str:
    platform.token_for(role)  # creates the account
    return str(platform.users[role]["username"])


def test_parallel_guesses_meet_the_lockout_and_the_right_password_is_refused(guarded):
    """12 logins at once, 11 wrong then the right one: only as many passwords as the
    threshold are ever checked, and the right one comes too late."""
    name = owner(guarded, "researcher")
    threshold = guarded.settings.access.lockout_threshold
    ip = "203.0.113.7"
    with ThreadPoolExecutor(max_workers=12) as pool:
        wrong = [pool.submit(guarded.login, name, f"wrong guess {i:02d}", ip) for i in range(11)]
        time.sleep(0.05)  # the right password leaves last, while the guesses are in flight
        right = pool.submit(guarded.login, name, PASSWORD, ip)
        codes = sorted(f.result().status_code for f in wrong)
        answer = right.result()
    assert answer.status_code == 429, answer.text
    assert "access_token" not in answer.text
    assert codes == [401] * threshold + [429] * (11 - threshold)
    guarded.wait_audit("access.user_locked", lambda e: e["data"]["username"] == name)


def test_a_lock_ends_on_time_however_long_the_guessing_goes_on(guarded):
    """The window starts at the first failure and guesses during the lock do not extend it:
    the owner is slowed down with the attacker, never locked out for good."""
    name = owner(guarded, "reviewer")
    threshold = guarded.settings.access.lockout_threshold
    started = time.monotonic()
    for i in range(threshold):
        assert guarded.login(name, f"wrong {i}", "198.51.100.1").status_code == 401
    while time.monotonic() - started < LOCK_SECONDS - 1.5:
        locked = guarded.login(name, "still guessing", "198.51.100.1")
        assert locked.status_code == 429, locked.text
        assert 1 <= int(locked.headers["Retry-After"]) <= LOCK_SECONDS
        time.sleep(0.3)
    time.sleep(max(0.0, LOCK_SECONDS + 1 - (time.monotonic() - started)))
    answer = guarded.login(name, PASSWORD, "198.51.100.2")
    assert answer.status_code == 200, answer.text


def test_one_source_failing_on_many_accounts_is_throttled(settings):
    """Password spraying: one address trying one password on many accounts is stopped by
    the source's own count, while other addresses still sign in."""
    platform, stop = start_platform(
        settings,
        overrides={"lockout_threshold": 1, "lockout_seconds": 60, "login_per_minute": 1000},
    )
    try:
        name = owner(platform, "cataloguer")
        spray = "198.18.9.9"
        codes = [platform.login(f"person-{i}", "Summer2026!", spray).status_code for i in range(12)]
        assert codes == [401] * 10 + [429] * 2
        refused = platform.login(name, PASSWORD, spray)
        assert refused.status_code == 429, refused.text
        assert platform.login(name, PASSWORD, "198.18.9.10").status_code == 200
    finally:
        stop()
