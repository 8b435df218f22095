"""Change Discovery over the real database: activities are numbered in commit order, so a
harvester reading the stream incrementally (newest last, resuming after the last activity it
saw) never misses one, even when two transactions interleave (ADR 0060).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from iiif import discovery
from services.iiif import manifests
from services.iiif import repository as repo
from shared.db import DbSession, unit_of_work
from tests.integration.iiif.conftest import ready_image
from tests.unit.iiif.presentation_samples import record

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1:8000"


def stage(db: DbSession, record_id: str, **doc: Any) -> str:
    body = record(id=record_id, heritage_class="tangible_site", documentary=None) | doc
    repo.apply_record(
        db, record_id, "published", 2, "tangible_site", body, False, datetime.now(UTC)
    )
    if not repo.assets_of(db, record_id):
        ready_image(db, record_id)
    return manifests.refresh(db, BASE, record_id, None)


class Harvester:
    """A partner reading the stream as Change Discovery 1.0 describes: it remembers how far it
    read and, on each visit, reads from the page holding its position to the last page."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.items: list[dict[str, Any]] = []

    def visit(self) -> None:
        with unit_of_work(self.engine) as db:
            top = json.loads(manifests.served_changes(db, BASE, None)["body"])
            last = int(top["last"]["id"].rsplit("/", 1)[1])
            first = len(self.items) // discovery.PAGE_SIZE
            for number in range(first, last + 1):
                page = json.loads(manifests.served_changes(db, BASE, str(number))["body"])
                assert page["startIndex"] == number * discovery.PAGE_SIZE
                for offset, item in enumerate(page["orderedItems"]):
                    if page["startIndex"] + offset >= len(self.items):
                        self.items.append(item)


def whole_stream(engine: Any) -> list[dict[str, Any]]:
    fresh = Harvester(engine)
    fresh.visit()
    return fresh.items


def manifest_of(item: dict[str, Any]) -> str | None:
    if item["object"]["type"] != "Manifest":
        return None
    return str(item["object"]["id"]).split("/records/")[1].split("/")[0]


def test_a_transaction_committing_late_never_lands_behind_a_harvester(iiif_engine, monkeypatch):
    engine = iiif_engine
    monkeypatch.setattr(discovery, "PAGE_SIZE", 2)  # several pages from a few activities
    harvester = Harvester(engine)
    early, late = str(uuid.uuid4()), str(uuid.uuid4())
    with unit_of_work(engine) as db:
        stage(db, str(uuid.uuid4()))  # something already harvested
    harvester.visit()
    assert harvester.items

    # the first transaction writes its activities (takes its numbers) and does not commit yet
    first = DbSession(engine)
    try:
        assert stage(first, early) == "created"
        done: list[float] = []

        def second() -> None:
            with unit_of_work(engine) as db:
                assert stage(db, late, rank={"level": "special_national"}) == "created"
            done.append(time.monotonic())

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)  # the second would have committed by now, were it not ordered
        harvester.visit()
        first.commit()
        committed = time.monotonic()
    finally:
        first.close()
    thread.join(20)
    assert done, "the second transaction did not finish"
    assert done[0] >= committed  # it waited for the first to end before numbering its own
    harvester.visit()

    stream = whole_stream(engine)
    assert harvester.items == stream  # nothing missed, nothing read twice
    ids = [manifest_of(a) for a in stream]
    assert ids.index(early) < ids.index(late)  # in commit order
    ends = [a["endTime"] for a in stream]
    assert ends == sorted(ends)


def lock_is_free(engine: Any) -> bool:
    """Whether another transaction could number activities now."""
    with unit_of_work(engine) as db:
        return bool(
            db.execute(
                "SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))",
                {"k": repo.ACTIVITY_LOCK},
            ).scalar()
        )


def test_a_rebuild_numbers_its_activities_at_its_end_only(iiif_engine, monkeypatch):
    """Batches of a full rebuild are built and stored without the stream's lock (others keep
    appending meanwhile); it is taken for the activities, written last, until commit."""
    engine = iiif_engine
    with unit_of_work(engine) as db:
        for _ in range(3):
            rid = str(uuid.uuid4())
            body = record(id=rid, heritage_class="tangible_site", documentary=None)
            repo.apply_record(
                db, rid, "published", 2, "tangible_site", body, False, datetime.now(UTC)
            )
            ready_image(db, rid)
    free_while_storing: list[bool] = []
    store = repo.store_manifests

    def probing_store(db: DbSession, rows: list[dict[str, Any]]) -> None:
        free_while_storing.append(lock_is_free(engine))
        store(db, rows)

    monkeypatch.setattr(repo, "store_manifests", probing_store)
    rebuilding = DbSession(engine)
    try:
        outcome = manifests.rebuild_all(rebuilding, BASE, None, batch=1)
        assert outcome["outcomes"] == {"created": 3}
        assert free_while_storing == [True, True, True]
        assert not lock_is_free(engine)  # held from the activities to the commit
        rebuilding.commit()
    finally:
        rebuilding.close()
    assert lock_is_free(engine)
    items = whole_stream(engine)
    assert [a["type"] for a in items if a["object"]["type"] == "Manifest"] == ["Create"] * 3
