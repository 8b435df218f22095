"""Collections and Change Discovery over the real database: large collections are paged,
collections are created with their first member and deleted with their last, activities are
listed oldest first across pages.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from services.iiif import domain, manifests
from services.iiif import repository as repo
from shared.db import unit_of_work
from tests.conformance.presentation import presentation_errors
from tests.integration.iiif.conftest import ready_image
from tests.unit.iiif.presentation_samples import record

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1:8000"


def put(engine, record_id: str, state: str = "published", version: int = 2, **doc) -> str:
    body = record(id=record_id, heritage_class="tangible_site", documentary=None) | doc
    with unit_of_work(engine) as db:
        repo.apply_record(
            db, record_id, state, version, "tangible_site", body, False, datetime.now(UTC)
        )
        if not repo.assets_of(db, record_id):
            ready_image(db, record_id)
        return manifests.refresh(db, BASE, record_id, None)


def stream(engine) -> list[dict]:
    items: list[dict] = []
    with unit_of_work(engine) as db:
        top = json.loads(manifests.served_changes(db, BASE, None)["body"])
        last = int(top["last"]["id"].rsplit("/", 1)[1])
        for page in range(last + 1):
            doc = json.loads(manifests.served_changes(db, BASE, page)["body"])
            assert doc["startIndex"] == page * 100
            items += doc["orderedItems"]
    assert len(items) == top["totalItems"]
    return items


def test_a_collection_is_created_with_its_first_member_and_deleted_with_its_last(iiif_engine):
    engine = iiif_engine
    rank = domain.collection_url(BASE, "rank-special-national")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    put(engine, first, rank={"level": "special_national"})
    put(engine, second, rank={"level": "special_national"})
    put(engine, first, "withdrawn", 3)
    put(engine, second, "withdrawn", 3)
    kinds = [a["type"] for a in stream(engine) if a["object"]["id"] == rank]
    assert kinds == ["Create", "Update", "Update", "Delete"]
    # its group in the tree (ADR 0067) lives as long as one of its collections does
    ranks = domain.collection_url(BASE, "ranks")
    kinds = [a["type"] for a in stream(engine) if a["object"]["id"] == ranks]
    assert kinds[0] == "Create" and kinds[-1] == "Delete"
    with unit_of_work(engine) as db:
        with pytest.raises(Exception, match="no collection"):
            manifests.served_collection(db, BASE, "rank-special-national", None)
        empty_all = json.loads(manifests.served_collection(db, BASE, "all", None)["body"])
    assert empty_all["items"] == [] and presentation_errors(empty_all) == []


def test_large_collections_are_paged_and_the_stream_spans_pages(iiif_engine):
    engine = iiif_engine
    now = datetime.now(UTC)
    ids = sorted(str(uuid.uuid4()) for _ in range(domain.COLLECTION_PAGE + 5))
    with unit_of_work(engine) as db:
        for n, record_id in enumerate(ids):
            doc = record(id=record_id, heritage_class="tangible_site", documentary=None)
            doc["title"] = {"vi": f"Di tích {n:05d}"}
            repo.apply_record(db, record_id, "published", 2, "tangible_site", doc, False, now)
            ready_image(db, record_id)
        outcome = manifests.rebuild_all(db, BASE, None)
    assert outcome["outcomes"] == {"created": len(ids)}
    with unit_of_work(engine) as db:
        top = json.loads(manifests.served_collection(db, BASE, "all", None)["body"])
        # its sub-collections (ADR 0067), then its two pages
        pages = [i["id"].rsplit("/", 2)[1:] for i in top["items"][-2:]]
        assert pages == [["page", "1"], ["page", "2"]]
        assert [i["id"].rsplit("/", 1)[1] for i in top["items"][:-2]] == [
            "class-tangible-site", "ranks", "districts", "communes", "unesco"
        ]  # fmt: skip
        page1 = json.loads(manifests.served_collection(db, BASE, "all", 1)["body"])
        page2 = json.loads(manifests.served_collection(db, BASE, "all", "2")["body"])
        with pytest.raises(Exception, match="page"):
            manifests.served_collection(db, BASE, "all", 3)
    assert len(page1["items"]) == domain.COLLECTION_PAGE and len(page2["items"]) == 5
    assert page1["items"][0]["label"] == {"vi": ["Di tích 00000"]}
    assert page2["partOf"][0]["id"] == domain.collection_url(BASE, "all")
    for doc in (top, page1, page2):
        assert presentation_errors(doc) == [], doc["id"]
    items = stream(engine)
    manifests_created = [a for a in items if a["object"]["type"] == "Manifest"]
    assert len(manifests_created) == len(ids)
    assert {a["type"] for a in manifests_created} == {"Create"}
    collections = [a for a in items if a["object"]["type"] == "Collection"]
    names = {a["object"]["id"] for a in collections}
    # one per collection for the whole rebuild (written at its end, ADR 0060): no flood
    assert [a["type"] for a in collections] == ["Create"] * len(names)
