"""Embargoes ending by the clock over the real database: the timer's step rebuilds the manifest
of a record whose embargo (or an asset's) has ended, once, and replicas never take the same
policy (SKIP LOCKED)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from services.iiif import domain, manifests
from services.iiif import repository as repo
from services.iiif.service import release_ended_embargoes
from shared.db import unit_of_work
from tests.unit.iiif.presentation_samples import record

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1:8000"


def published(engine, embargo_for: str | None = None) -> tuple[str, str]:
    """A published record with one image; ``embargo_for`` = "record" or "asset" embargoes it
    for an hour. Returns (record id, asset id)."""
    record_id, asset_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    body = record(id=record_id, heritage_class="tangible_site", documentary=None)
    with unit_of_work(engine) as db:
        repo.apply_record(db, record_id, "published", 2, "tangible_site", body, False, now)
        repo.apply_asset(
            db, asset_id, record_id, now, kind="image", status="ready", width=40, height=30
        )
        if embargo_for is not None:
            target = record_id if embargo_for == "record" else asset_id
            repo.apply_policy(db, target, "embargoed", now + timedelta(hours=1), now)
        manifests.refresh(db, BASE, record_id, None)
    return record_id, asset_id


def end_embargo(engine, resource_id: str) -> None:
    """What the passing of time does: the embargo date is now in the past."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE policies SET embargo_until = now() - interval '1 second' "
                "WHERE record_id = :r"
            ),
            {"r": resource_id},
        )


def stored(engine, record_id: str) -> dict:
    with unit_of_work(engine) as db:
        row = repo.get_manifest(db, record_id)
        assert row is not None
        return {"public": row["public"], "doc": json.loads(row["body"]), "etag": row["etag"]}


def probes(doc: dict) -> list[dict]:
    body = doc["items"][0]["items"][0]["items"][0]["body"]
    return [s for s in body.get("service", []) if s.get("type") == "AuthProbeService2"]


def release(engine) -> list[str]:
    with unit_of_work(engine) as db:
        return release_ended_embargoes(db, BASE, datetime.now(UTC), 50)


def test_a_record_whose_embargo_ended_is_rebuilt_public_once(iiif_engine):
    record_id, _ = published(iiif_engine, embargo_for="record")
    before = stored(iiif_engine, record_id)
    assert before["public"] is False and probes(before["doc"])
    assert record_id not in release(iiif_engine)  # not ended yet: nothing to do
    end_embargo(iiif_engine, record_id)
    assert record_id in release(iiif_engine)
    after = stored(iiif_engine, record_id)
    assert after["public"] is True and not probes(after["doc"])
    assert after["etag"] != before["etag"]
    url = domain.manifest_url(BASE, record_id)
    with unit_of_work(iiif_engine) as db:
        kinds = [a["type"] for a in repo.activities_for(db, url)]
        mirror = [str(r[0]) for r in db.execute("SELECT record_id FROM mirror_queue")]
    assert kinds == ["Create", "Update"]
    assert record_id in mirror  # the front's file appears too (ADR 0061)
    assert record_id not in release(iiif_engine)  # taken once
    with unit_of_work(iiif_engine) as db:
        assert len(repo.activities_for(db, url)) == 2


def test_an_assets_embargo_ending_removes_its_probe_service(iiif_engine):
    record_id, asset_id = published(iiif_engine, embargo_for="asset")
    before = stored(iiif_engine, record_id)
    assert before["public"] is True and probes(before["doc"])
    end_embargo(iiif_engine, asset_id)
    assert release(iiif_engine) == [record_id]
    assert not probes(stored(iiif_engine, record_id)["doc"])


def test_a_new_policy_clears_the_released_mark(iiif_engine):
    record_id, _ = published(iiif_engine, embargo_for="record")
    end_embargo(iiif_engine, record_id)
    assert release(iiif_engine) == [record_id]
    later = datetime.now(UTC) + timedelta(seconds=5)
    with unit_of_work(iiif_engine) as db:
        repo.apply_policy(db, record_id, "embargoed", later + timedelta(hours=1), later)
        manifests.refresh(db, BASE, record_id, None)
    assert stored(iiif_engine, record_id)["public"] is False
    end_embargo(iiif_engine, record_id)
    assert release(iiif_engine) == [record_id]
    assert stored(iiif_engine, record_id)["public"] is True


def test_two_replicas_never_take_the_same_ended_embargo(iiif_engine):
    first, _ = published(iiif_engine, embargo_for="record")
    end_embargo(iiif_engine, first)
    with unit_of_work(iiif_engine) as one:
        taken = repo.ended_embargoes(one, datetime.now(UTC), 50)
        assert first in taken
        with unit_of_work(iiif_engine) as other:
            assert first not in repo.ended_embargoes(other, datetime.now(UTC), 50)


def test_a_record_that_cannot_be_rebuilt_does_not_hold_back_the_others(iiif_engine, monkeypatch):
    broken, _ = published(iiif_engine, embargo_for="record")
    fine, _ = published(iiif_engine, embargo_for="record")
    end_embargo(iiif_engine, broken)
    end_embargo(iiif_engine, fine)
    real = manifests.refresh

    def refresh(db, base, record_id, correlation_id):
        if record_id == broken:
            db.execute("SELECT 1/0")  # fails inside its savepoint
        return real(db, base, record_id, correlation_id)

    monkeypatch.setattr(manifests, "refresh", refresh)
    assert release(iiif_engine) == [fine]
    assert stored(iiif_engine, fine)["public"] is True
    assert stored(iiif_engine, broken)["public"] is False  # a later event rebuilds it
    assert release(iiif_engine) == []  # not taken again every tick
