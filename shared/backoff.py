"""The one backoff of the platform: how long to wait before trying again.

Retried events (``shared.bus``), the outbox relay, webhook deliveries, broadcast consumers that
reconnect and the Cantaloupe purger all wait the same way: a base delay doubled after each
failure up to a ceiling, so a dependency coming back is not hammered and a long outage is not
waited out for ever. Pure: no clock, no sleeping; the caller sleeps the way its thread must.
"""

from __future__ import annotations

import random


def exponential(attempt: int, base: float, ceiling: float) -> float:
    """The delay after failed attempt ``attempt`` (1-based): base, 2·base, 4·base … at most
    ``ceiling``; attempts below 1 count as the first."""
    return min(base * float(2 ** max(attempt - 1, 0)), ceiling)


def equal_jitter(delay: float, rng: random.Random | None = None) -> float:
    """Half of ``delay`` fixed, half random ("equal jitter"), so many clients retrying after one
    outage are spread out instead of arriving in one synchronised wave."""
    jitter: float = (rng or random).uniform(0, delay / 2)
    return float(delay / 2 + jitter)


class Backoff:
    """The growing pause of a loop that reconnects or retries: ``failed()`` after each failure
    gives the pause to take, ``reset()`` after a success starts again from ``initial``."""

    def __init__(self, initial: float, ceiling: float) -> None:
        self.initial = initial
        self.ceiling = ceiling
        self.failures = 0

    def failed(self) -> float:
        """The pause after one more failure."""
        self.failures += 1
        return exponential(self.failures, self.initial, self.ceiling)

    def reset(self) -> None:
        self.failures = 0
