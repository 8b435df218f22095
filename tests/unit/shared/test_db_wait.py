"""psycopg's wait function under eventlet: readiness, idle intervals, timeouts, closed sockets."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Generator

import eventlet
import pytest
from psycopg import OperationalError
from psycopg import waiting as pg_waiting
from psycopg.errors import _WaitTimeout

from shared.db import _wait_green, use_green_wait

R, W, RW = 1, 2, 3


def recorder(waits: list[int], seen: list[int], until: int) -> Generator[int, int, str]:
    """A psycopg-like generator: asks for ``waits`` in turn, records the readiness it gets."""
    i = 0
    while len([s for s in seen if s]) < until:
        ready = yield waits[min(i, len(waits) - 1)]
        seen.append(ready)
        i += 1
    return "done"


def test_the_green_wait_is_what_psycopg_uses_in_a_patched_process():
    assert use_green_wait()
    assert pg_waiting.wait is _wait_green


def test_reports_readable_once_data_arrives_and_idle_intervals_before():
    a, b = socket.socketpair()
    try:
        seen: list[int] = []
        eventlet.spawn_after(0.12, b.send, b"x")
        assert _wait_green(recorder([R], seen, 1), a.fileno(), interval=0.05) == "done"
        assert seen[-1] == R
        assert seen[:-1] and set(seen[:-1]) == {0}  # READY_NONE after each idle interval
    finally:
        a.close()
        b.close()


def test_reports_writable_and_both_directions():
    a, b = socket.socketpair()
    try:
        seen: list[int] = []
        assert _wait_green(recorder([W], seen, 1), a.fileno(), interval=0.05) == "done"
        assert seen == [W]
        seen = []
        b.send(b"x")
        assert _wait_green(recorder([RW], seen, 1), a.fileno(), interval=0.05) == "done"
        assert len(seen) == 1 and seen[0] in (R, W, RW)  # the green select reports the first
    finally:
        a.close()
        b.close()


def test_other_green_threads_run_while_one_waits():
    a, b = socket.socketpair()
    try:
        ticks: list[float] = []

        def ticker() -> None:
            for _ in range(5):
                ticks.append(time.monotonic())
                eventlet.sleep(0.02)
            b.send(b"x")

        eventlet.spawn(ticker)
        started = time.monotonic()
        _wait_green(recorder([R], [], 1), a.fileno(), interval=1.0)
        assert len(ticks) == 5  # the hub was never blocked
        assert time.monotonic() - started < 0.9  # woken by the data, not by the interval
    finally:
        a.close()
        b.close()


def test_a_timeout_raises_psycopgs_wait_timeout():
    a, b = socket.socketpair()
    try:
        started = time.monotonic()
        with pytest.raises(_WaitTimeout):
            _wait_green(recorder([R], [], 1), a.fileno(), interval=0.05, timeout=0.2)
        assert 0.15 < time.monotonic() - started < 1.0
    finally:
        a.close()
        b.close()


def test_a_closed_socket_raises_operational_error():
    a, b = socket.socketpair()
    fileno = a.detach()  # a bare descriptor, closed behind the waiter's back

    def close_later() -> None:
        eventlet.sleep(0.06)
        os.close(fileno)

    eventlet.spawn(close_later)
    try:
        with pytest.raises(OperationalError):
            _wait_green(recorder([R], [], 1), fileno, interval=0.1, timeout=5)
    finally:
        b.close()
