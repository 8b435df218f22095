"""shared.idempotency against PostgreSQL: concurrent duplicates wait for the first and get its
result (or act if it rolled back), and old remembered requests are swept."""

from __future__ import annotations

import eventlet
import pytest

from shared import idempotency
from shared.db import DbSession

pytestmark = pytest.mark.integration


def test_a_concurrent_duplicate_waits_for_the_first_and_returns_its_result(schema_factory, unique):
    engine = schema_factory(unique)
    first, second = DbSession(engine), DbSession(engine)
    try:
        assert idempotency.begin(first, "K", "create", "fp") == (True, None)
        waiting = eventlet.spawn(idempotency.begin, second, "K", "create", "fp")
        eventlet.sleep(0.3)
        assert not waiting.dead  # blocked on the first one's row
        idempotency.finish(first, "K", "create", {"id": "r1"})
        first.commit()
        assert waiting.wait() == (False, {"id": "r1"})
    finally:
        first.close()
        second.close()


def test_a_duplicate_of_a_rolled_back_call_acts_itself(schema_factory, unique):
    engine = schema_factory(unique)
    first, second = DbSession(engine), DbSession(engine)
    try:
        assert idempotency.begin(first, "K", "create", "fp") == (True, None)
        waiting = eventlet.spawn(idempotency.begin, second, "K", "create", "fp")
        eventlet.sleep(0.3)
        first.rollback()  # the first worker failed: nothing was done
        assert waiting.wait() == (True, None)
    finally:
        first.close()
        second.close()


def test_remembered_requests_older_than_the_retention_are_swept(schema_factory, unique):
    engine = schema_factory(unique)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO idempotent_requests (key, method, fingerprint, result, created_at) "
            "SELECT 'old' || n, 'create', 'fp', 'null', now() - interval '8 days' "
            "FROM generate_series(1, 7) AS n"
        )
        conn.exec_driver_sql(
            "INSERT INTO idempotent_requests (key, method, fingerprint, result) "
            "VALUES ('new', 'create', 'fp', 'null')"
        )
    assert idempotency.sweep(engine, keep_days=7, batch=3) == 7
    with engine.connect() as conn:
        keys = [r[0] for r in conn.exec_driver_sql("SELECT key FROM idempotent_requests")]
    assert keys == ["new"]
