"""IIIF Change Discovery 1.0 documents (iiif.discovery)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iiif import discovery

STREAM = "https://disan.example/iiif/discovery/1/all-changes"


def test_the_collection_points_at_its_first_and_last_pages():
    doc = discovery.ordered_collection(STREAM, 250, 2)
    assert doc["@context"] == "http://iiif.io/api/discovery/1/context.json"
    assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 250
    assert doc["first"] == {"id": f"{STREAM}/page/0", "type": "OrderedCollectionPage"}
    assert doc["last"] == {"id": f"{STREAM}/page/2", "type": "OrderedCollectionPage"}


def test_pages_link_both_ways_and_hold_activities_oldest_first():
    when = datetime(2026, 11, 27, 8, 0, 1, 500, tzinfo=UTC)
    item = discovery.activity("Create", "https://x/m", "Manifest", when, f"{STREAM}/activity/7")
    assert item == {
        "id": f"{STREAM}/activity/7",
        "type": "Create",
        "object": {"id": "https://x/m", "type": "Manifest"},
        "endTime": "2026-11-27T08:00:01Z",
    }
    first = discovery.ordered_page(STREAM, 0, 2, [item], 0)
    middle = discovery.ordered_page(STREAM, 1, 2, [], 100)
    last = discovery.ordered_page(STREAM, 2, 2, [], 200)
    assert "prev" not in first and first["next"]["id"] == f"{STREAM}/page/1"
    assert middle["prev"]["id"] == f"{STREAM}/page/0" and middle["next"]["id"] == f"{STREAM}/page/2"
    assert "next" not in last and last["startIndex"] == 200
    assert first["partOf"] == {"id": STREAM, "type": "OrderedCollection"}


def test_bad_types_and_pages_are_refused():
    now = datetime.now(UTC)
    with pytest.raises(ValueError):
        discovery.activity("Move", "https://x/m", "Manifest", now, f"{STREAM}/activity/1")
    with pytest.raises(ValueError):
        discovery.activity("Create", "https://x/m", "Canvas", now, f"{STREAM}/activity/1")
    with pytest.raises(ValueError):
        discovery.ordered_page(STREAM, 3, 2, [], 0)


def test_naive_times_are_taken_as_utc():
    assert discovery.timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_activities_have_stable_ids_in_the_stream_and_the_media_type_is_discovery_1():
    assert discovery.activity_url(STREAM, 42) == f"{STREAM}/activity/42"
    assert discovery.MEDIA_TYPE == (
        'application/ld+json;profile="http://iiif.io/api/discovery/1/context.json"'
    )
