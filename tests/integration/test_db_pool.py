"""Pooled connections are checked only after sitting idle, and a dead one is replaced unseen."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import shared.db
from shared.db import make_engine

pytestmark = pytest.mark.integration


def _pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_pooled_connection_killed_while_idle_is_replaced_transparently(
    settings, schema_factory, unique, monkeypatch
):
    schema_factory(unique)
    engine = make_engine(settings.database_url, unique, pool_size=1)
    other = make_engine(settings.database_url, unique, pool_size=1)
    try:
        first = _pid(engine)
        assert _pid(engine) == first  # a busy pool reuses its connection (no ping: not idle)
        with other.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        monkeypatch.setattr(shared.db, "IDLE_PING_SECONDS", 0.0)
        assert _pid(engine) != first  # pinged, found dead, reconnected: the caller saw nothing
    finally:
        engine.dispose()
        other.dispose()


def test_without_the_idle_check_the_dead_connection_would_fail(
    settings, schema_factory, unique, monkeypatch
):
    """The control experiment: the same kill, used before the idle threshold, is an error."""
    from sqlalchemy.exc import OperationalError

    schema_factory(unique)
    engine = make_engine(settings.database_url, unique, pool_size=1)
    other = make_engine(settings.database_url, unique, pool_size=1)
    try:
        first = _pid(engine)
        with other.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        monkeypatch.setattr(shared.db, "IDLE_PING_SECONDS", 3600.0)
        with pytest.raises(OperationalError):
            _pid(engine)
        assert _pid(engine) != first  # and the pool recovers right after
    finally:
        engine.dispose()
        other.dispose()
