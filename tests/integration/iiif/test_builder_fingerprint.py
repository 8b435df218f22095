"""A new release's manifest builder, or another public URL, rebuilds every stored manifest:
marked stale once (by one replica), rebuilt by the stale timer, with Update activities only
where the bytes changed."""

from __future__ import annotations

import threading
import uuid

import pytest

from services.iiif import manifests
from services.iiif import repository as repo
from shared.db import unit_of_work
from tests.integration.iiif.test_collections_db import BASE, put, stream

pytestmark = pytest.mark.integration

OTHER_BASE = "https://disan.haiphong.example"


def _check(engine, base: str = BASE) -> int:
    with unit_of_work(engine) as db:
        return manifests.rebuild_if_builder_changed(db, base)


def _stale(engine) -> int:
    with unit_of_work(engine) as db:
        return len(repo.stale_ids(db, 1000))


def _rebuild(engine, base: str) -> int:
    with unit_of_work(engine) as db:
        return manifests.rebuild_stale(db, base, 1000)


def test_a_changed_builder_or_public_url_rebuilds_every_manifest(iiif_engine, monkeypatch):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for record_id in ids:
        put(iiif_engine, record_id)
    assert _check(iiif_engine) == 3  # no fingerprint stored yet: built by an older release
    assert _stale(iiif_engine) == 3
    assert _check(iiif_engine) == 0  # the same builder again (a restart, another replica)
    before = len(stream(iiif_engine))
    assert _rebuild(iiif_engine, BASE) == 3
    assert _stale(iiif_engine) == 0
    assert len(stream(iiif_engine)) == before, "same bytes: no Update activity"

    # another public URL: every id changes, every manifest is rebuilt and announced
    assert _check(iiif_engine, OTHER_BASE) == 3
    assert _rebuild(iiif_engine, OTHER_BASE) == 3
    with unit_of_work(iiif_engine) as db:
        served = manifests.served_manifest(db, OTHER_BASE, ids[0], None)
    assert served["body"].startswith('{"@context"') and f'"{OTHER_BASE}/iiif/' in served["body"]
    updates = [a for a in stream(iiif_engine)[before:] if a["type"] == "Update"]
    assert {a["object"]["id"].split("/records/")[1].split("/")[0] for a in updates} >= set(ids)

    # new builder code (here: one more module it depends on)
    monkeypatch.setattr(
        manifests, "BUILDER_MODULES", (*manifests.BUILDER_MODULES, "iiif.discovery")
    )
    assert _check(iiif_engine, OTHER_BASE) == 3
    assert _check(iiif_engine, OTHER_BASE) == 0


def test_replicas_starting_together_mark_once(iiif_engine):
    put(iiif_engine, str(uuid.uuid4()))
    results: list[int] = []
    start = threading.Barrier(2)

    def replica() -> None:
        start.wait()
        results.append(_check(iiif_engine, BASE + "/replicas"))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [0, 1], results
