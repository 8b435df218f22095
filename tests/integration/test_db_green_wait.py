"""psycopg under eventlet with the green wait: a statement never blocks other green threads."""

from __future__ import annotations

import time

import eventlet
import pytest
from psycopg import waiting as pg_waiting
from sqlalchemy import text

from shared.db import _wait_green, make_engine

pytestmark = pytest.mark.integration


def test_concurrent_statements_wait_on_the_hub_not_in_turn(settings, schema_factory, unique):
    schema_factory(unique)
    engine = make_engine(settings.database_url, unique, pool_size=5)
    assert pg_waiting.wait is _wait_green
    try:

        def sleep_in_db(seconds: float) -> int:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT 7 FROM pg_sleep(:s)"), {"s": seconds})
                return int(row.scalar_one())

        pool = eventlet.GreenPool(5)
        assert list(pool.imap(sleep_in_db, [0.1] * 5)) == [7] * 5  # five connections open
        started = time.monotonic()
        results = list(pool.imap(sleep_in_db, [1.0] * 5))
        elapsed = time.monotonic() - started
        assert results == [7] * 5
        assert elapsed < 3.0, f"five 1 s statements took {elapsed:.2f} s: the hub was blocked"
    finally:
        engine.dispose()


def test_a_backend_killed_during_a_statement_is_reported(settings, schema_factory, unique):
    from sqlalchemy.exc import OperationalError

    schema_factory(unique)
    engine = make_engine(settings.database_url, unique, pool_size=1)
    other = make_engine(settings.database_url, unique, pool_size=1)
    try:
        with engine.connect() as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

            def kill_soon() -> None:
                eventlet.sleep(0.3)
                with other.begin() as killer:
                    killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})

            killer = eventlet.spawn(kill_soon)
            started = time.monotonic()
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT pg_sleep(30)"))
            killer.wait()
            assert time.monotonic() - started < 10
    finally:
        engine.dispose()
        other.dispose()
