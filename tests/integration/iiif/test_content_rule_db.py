"""A published record without media has no manifest (ADR 0067), against PostgreSQL: its
manifest URL is a 404 saying why, no collection lists it, and Change Discovery announces the
manifest when its first canvas appears and a Delete when its last goes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from services.iiif import domain, manifests
from services.iiif import repository as repo
from shared.db import unit_of_work
from shared.errors import NotFound
from tests.integration.iiif.conftest import ready_image
from tests.integration.iiif.test_collections_db import BASE, stream
from tests.unit.iiif.presentation_samples import record

pytestmark = pytest.mark.integration


def test_a_record_has_a_manifest_from_its_first_canvas_to_its_last(iiif_engine):
    engine = iiif_engine
    record_id = str(uuid.uuid4())
    body = record(id=record_id, heritage_class="tangible_site", documentary=None)
    url = domain.manifest_url(BASE, record_id)
    with unit_of_work(engine) as db:
        repo.apply_record(
            db, record_id, "published", 2, "tangible_site", body, False, datetime.now(UTC)
        )
        assert manifests.refresh(db, BASE, record_id, None) == "absent"
    with unit_of_work(engine) as db:
        with pytest.raises(NotFound) as refused:
            manifests.served_manifest(db, BASE, record_id, None)
        assert refused.value.details["reason"] == "no_content"
        assert list(refused.value.details["text"]) == ["vi", "en"]
        assert repo.collection_size(db, "all") == 0
    assert [a for a in stream(engine) if a["object"]["id"] == url] == []

    with unit_of_work(engine) as db:
        asset_id = ready_image(db, record_id)
        assert manifests.refresh(db, BASE, record_id, None) == "created"
    with unit_of_work(engine) as db:
        doc = json.loads(manifests.served_manifest(db, BASE, record_id, None)["body"])
        assert len(doc["items"]) == 1
        members = json.loads(manifests.served_collection(db, BASE, "all", None)["body"])
        assert [m["id"] for m in members["items"] if m["type"] == "Manifest"] == [url]

    with unit_of_work(engine) as db:
        repo.apply_asset(db, asset_id, record_id, datetime.now(UTC), status="deleted")
        assert manifests.refresh(db, BASE, record_id, None) == "deleted"
        assert repo.canvases_of(db, record_id) == []
    with unit_of_work(engine) as db:
        with pytest.raises(NotFound) as refused:
            manifests.served_manifest(db, BASE, record_id, None)
        assert refused.value.details["reason"] == "no_content"
        assert json.loads(manifests.served_collection(db, BASE, "all", None)["body"])["items"] == []
        removed = db.execute(
            "SELECT envelope FROM outbox WHERE type = 'iiif.manifest_removed'"
        ).all()
    assert [r[0]["data"]["reason"] for r in removed] == ["no_content"]
    acts = [a["type"] for a in stream(engine) if a["object"]["id"] == url]
    assert acts == ["Create", "Delete"]


def test_a_record_never_published_is_a_404_that_says_so(iiif_engine):
    with unit_of_work(iiif_engine) as db:
        with pytest.raises(NotFound) as refused:
            manifests.served_manifest(db, BASE, str(uuid.uuid4()), None)
    assert refused.value.details["reason"] == "not_published"
