"""IIIF Change Discovery API 1.0 documents: the activity stream of manifests and collections.

An ``OrderedCollection`` points at its ``first`` and ``last`` pages; each
``OrderedCollectionPage`` lists Create/Update/Delete activities oldest first (newest last),
with ``partOf``, ``prev``/``next`` and ``startIndex``. Pages are numbered from 0 and live at
``{collection_id}/page/{n}``. Pure functions, no I/O.

Pages are fixed windows of ``PAGE_SIZE`` activities by position. The iiif service numbers
activities in commit order (ADR 0060), so the stream only ever grows at its end: a full page
never changes and a harvester resuming after the last activity it saw misses none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CONTEXT = "http://iiif.io/api/discovery/1/context.json"
#: The media type of every document of the stream (Change Discovery 1.0, section 4.1).
MEDIA_TYPE = f'application/ld+json;profile="{CONTEXT}"'
PAGE_SIZE = 100
ACTIVITY_TYPES = ("Create", "Update", "Delete")
OBJECT_TYPES = ("Manifest", "Collection")


def page_url(collection_id: str, number: int) -> str:
    return f"{collection_id}/page/{number}"


def _page_ref(collection_id: str, number: int) -> dict[str, str]:
    return {"id": page_url(collection_id, number), "type": "OrderedCollectionPage"}


def timestamp(value: datetime) -> str:
    """``xsd:dateTime`` in UTC with a ``Z``, to the second as the spec's examples."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ordered_collection(collection_id: str, total: int, last_page: int) -> dict[str, Any]:
    """The entry point of the stream; with no activity yet, first and last are page 0."""
    return {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": _page_ref(collection_id, 0),
        "last": _page_ref(collection_id, last_page),
    }


def activity_url(collection_id: str, number: int) -> str:
    """The id of activity ``number`` (its place in commit order, never reused) of the stream."""
    return f"{collection_id}/activity/{number}"


def activity(
    kind: str, object_id: str, object_type: str, end_time: datetime, activity_id: str
) -> dict[str, Any]:
    """One Create/Update/Delete; ``activity_id`` is its stable URI (see ``activity_url``)."""
    if kind not in ACTIVITY_TYPES:
        raise ValueError(f"activity type {kind!r} is not one of {ACTIVITY_TYPES}")
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"object type {object_type!r} is not one of {OBJECT_TYPES}")
    return {
        "id": activity_id,
        "type": kind,
        "object": {"id": object_id, "type": object_type},
        "endTime": timestamp(end_time),
    }


def ordered_page(
    collection_id: str,
    number: int,
    last_page: int,
    items: list[dict[str, Any]],
    start_index: int,
) -> dict[str, Any]:
    """Page ``number`` of the stream holding ``items`` (oldest first)."""
    if not 0 <= number <= last_page:
        raise ValueError(f"page {number} is outside 0..{last_page}")
    page: dict[str, Any] = {
        "@context": CONTEXT,
        "id": page_url(collection_id, number),
        "type": "OrderedCollectionPage",
        "startIndex": start_index,
        "partOf": {"id": collection_id, "type": "OrderedCollection"},
    }
    if number > 0:
        page["prev"] = _page_ref(collection_id, number - 1)
    if number < last_page:
        page["next"] = _page_ref(collection_id, number + 1)
    page["orderedItems"] = items
    return page
