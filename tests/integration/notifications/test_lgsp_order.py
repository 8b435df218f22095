"""The LGSP feed's cursor follows the order in which changes are committed (issue 14).

Two journal transactions on real PostgreSQL: the one that journals a change first commits last.
A client that read the feed in between must still get the first change on its next poll.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from disan.registry import SERVICES
from services.notifications import journal
from shared.db import DbSession, make_engine, migrate
from shared.events import make_event
from shared.principals import Principal
from tests.integration.notifications.conftest import record_data

pytestmark = pytest.mark.integration

PARTNER = Principal("api_key", "k-order", "LGSP", frozenset({"partner"}))
URL = "https://disan.example.vn"


@pytest.fixture
def engine(settings: Any):
    schema = "t" + uuid.uuid4().hex[:10] + "_notifications"
    migrate(settings.database_url, schema, SERVICES["notifications"].migrations)
    engine = make_engine(settings.database_url, schema, pool_size=4)
    yield engine
    engine.dispose()
    admin = make_engine(settings.database_url, "public", pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _feed(engine: Any, params: dict[str, Any]) -> dict[str, Any]:
    db = DbSession(engine)
    try:
        return journal.lgsp_changes(db, params, URL, PARTNER)
    finally:
        db.rollback()
        db.close()


def test_a_change_committed_late_is_not_skipped_by_the_cursor(engine):
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    first = make_event("catalogue.record_published", record_data(), producer="test")
    second = make_event("catalogue.record_published", record_data(), producer="test")
    slow = DbSession(engine)
    journal.record(slow, first)  # journaled first, committed last
    done = threading.Event()

    def fast() -> None:
        db = DbSession(engine)
        try:
            journal.record(db, second)
            db.commit()
        finally:
            db.close()
            done.set()

    thread = threading.Thread(target=fast, daemon=True)
    thread.start()
    done.wait(1.0)  # it commits now, or waits for the first to commit
    page = _feed(engine, {"since": since})
    seen = [c["record_id"] for c in page["items"]]
    slow.commit()
    slow.close()
    thread.join(10)
    assert done.is_set()
    later = _feed(engine, {"cursor": page["cursor"]} if page["cursor"] else {"since": since})
    seen += [c["record_id"] for c in later["items"]]
    assert seen == [first.data["record_id"], second.data["record_id"]]
