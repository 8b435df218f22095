"""The one backoff (``shared.backoff``) and the places that wait with it keep their numbers."""

from __future__ import annotations

import random

import pytest

from shared.backoff import Backoff, equal_jitter, exponential
from shared.bus import retry_delay_ms
from shared.outbox import relay_backoff


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(-3, 0.5), (0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (40, 30.0)],
)
def test_the_delay_doubles_from_the_base_up_to_the_ceiling(attempt: int, expected: float) -> None:
    assert exponential(attempt, 0.5, 30.0) == expected


def test_equal_jitter_keeps_half_of_the_delay_and_draws_the_other_half() -> None:
    rng = random.Random(7)
    delays = [equal_jitter(8.0, rng) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100  # spread out, not one synchronised wave
    again = random.Random(7)
    assert delays[0] == 4.0 + again.uniform(0, 4.0)


def test_a_loop_backs_off_after_each_failure_and_starts_again_after_a_success() -> None:
    pause = Backoff(0.5, 10.0)
    assert [pause.failed() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    pause.reset()
    assert pause.failed() == 0.5


def test_a_fixed_pause_is_a_backoff_whose_ceiling_is_its_start() -> None:
    pause = Backoff(1.0, 1.0)
    assert {pause.failed() for _ in range(5)} == {1.0}


def test_event_retries_wait_as_before() -> None:
    # base 1 s doubling up to 60 s, in whole milliseconds, at least 1 ms
    assert [retry_delay_ms(n, 1.0, 60.0) for n in (0, 1, 2, 3, 7, 8)] == [
        1000,
        1000,
        2000,
        4000,
        60000,
        60000,
    ]
    assert retry_delay_ms(1, 0.0, 60.0) == 1


def test_the_outbox_relay_pauses_as_before_after_failures() -> None:
    # before: pause = min(max(pause * 2, 0.5), 10) from pause = idle, reset to idle on success
    for idle in (0.05, 0.2, 0.3, 1.0):
        old, expected = idle, []
        for _ in range(8):
            old = min(max(old * 2, 0.5), 10.0)
            expected.append(old)
        pause = relay_backoff(idle)
        assert [pause.failed() for _ in range(8)] == pytest.approx(expected)
