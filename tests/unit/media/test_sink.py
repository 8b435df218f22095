"""The upload sink's checks on what the gateway sends (no S3: pure parts of services.media.sink)."""

from __future__ import annotations

import uuid

import pytest

from services.media import sink
from shared.errors import BadRequest

ASSET = str(uuid.uuid4())


def test_a_sink_is_at_the_assets_master_or_under_uploads() -> None:
    assert sink.sink_key(ASSET, "tif", None) == f"assets/{ASSET}/original.tif"
    stage = str(uuid.uuid4())
    assert sink.sink_key(ASSET, "jpg", stage) == f"uploads/{stage}.jpg"


@pytest.mark.parametrize(
    ("asset_id", "ext", "stage"),
    [
        (ASSET, "exe", None),
        (ASSET, "../x", None),
        (ASSET, None, None),
        ("../../derivatives", "jpg", None),
        (ASSET, "jpg", "../assets/x"),
    ],
)
def test_a_sink_never_names_another_key(asset_id: object, ext: object, stage: object) -> None:
    with pytest.raises(BadRequest):
        sink.sink_key(asset_id, ext, stage)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "assets/x",
        {"key": f"assets/{ASSET}/thumbnail.jpg", "upload_id": "u"},
        {"key": f"assets/{ASSET}/v2/original.jpg", "upload_id": "u"},
        {"key": "uploads/../x.jpg", "upload_id": "u"},
        {"key": f"uploads/{ASSET}.jpg", "upload_id": ""},
        {"key": f"uploads/{ASSET}.jpg"},
    ],
)
def test_only_a_sink_media_opened_is_taken_back(bad: object) -> None:
    with pytest.raises(BadRequest):
        sink.checked(bad)


def test_part_urls_stay_within_the_10000_parts_of_an_upload() -> None:
    upload = {"key": f"uploads/{ASSET}.jpg", "upload_id": "u"}
    for first, count in ((0, 1), (1, 0), (1, sink.MAX_PART_URLS + 1), (9_999, 3), ("1", 1)):
        with pytest.raises(BadRequest):
            sink.part_urls(None, upload, first, count)  # type: ignore[arg-type]
