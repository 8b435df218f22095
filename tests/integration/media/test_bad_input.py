"""Every bad input of the issue gets a clear 4xx and leaves no object behind."""

from __future__ import annotations

import pytest

from services.media.domain import MASTERS_BUCKET, REFUSAL_TEXT
from tests.integration.media.conftest import sha
from tests.integration.media.support import (
    SVG_WITH_SCRIPT,
    jpeg,
    png_bomb,
    tiff,
    tiff_many_pages,
    zip_bytes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def record_id(media):
    return media.new_record()


def _refused(media, record_id, data, name, status, reason, headers=None, code=None):
    before = set(media.store.list_keys(MASTERS_BUCKET))
    answer = media.upload(record_id, data, name, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"]
    if reason is not None:
        assert reason in error["message"].lower(), error
    if code is not None:  # a stable reason code, and what it means for people in vi and en
        assert error["details"] == {"reason": code, "text": REFUSAL_TEXT[code]}, error
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before, "an object was left behind"
    return error


def test_zero_byte_file_is_422(media, record_id):
    error = _refused(media, record_id, b"", "empty.jpg", 422, "empty", code="empty")
    assert error["details"]["text"]["vi"] == "Tệp rỗng (0 byte)."


def test_truncated_jpeg_is_422(media, record_id):
    data = jpeg(800, 600)
    _refused(
        media, record_id, data[: len(data) // 2], "cut.jpg", 422, "truncated", code="truncated"
    )


def test_truncated_tiff_is_422(media, record_id):
    data = tiff(800, 600)
    _refused(
        media, record_id, data[: len(data) // 2], "cut.tif", 422, "truncated", code="truncated"
    )


def test_png_decompression_bomb_over_the_pixel_limit_is_413(media, record_id):
    _refused(
        media,
        record_id,
        png_bomb(100_000, 100_000),
        "bomb.png",
        413,
        "pixels",
        code="too_many_pixels",
    )


def test_png_bomb_under_the_pixel_limit_is_refused_by_its_ratio(media, record_id):
    _refused(
        media,
        record_id,
        png_bomb(20_000, 20_000),
        "bomb2.png",
        413,
        "decompression bomb",
        code="decompression_ratio",
    )


def test_tiff_with_100000_pages_is_413(media, record_id):
    _refused(
        media, record_id, tiff_many_pages(100_000), "pages.tif", 413, "pages", code="too_many_pages"
    )


def test_a_jpg_that_is_a_zip_is_415_before_anything_is_stored(media, record_id):
    _refused(media, record_id, zip_bytes(), "photo.jpg", 415, "zip", code="archive")


def test_svg_with_script_is_415(media, record_id):
    _refused(media, record_id, SVG_WITH_SCRIPT, "logo.svg", 415, "script", code="svg_script")


def test_wrong_client_checksum_is_422(media, record_id):
    data = jpeg(64, 64)
    headers = {"X-Checksum-SHA256": sha(b"something else")}
    _refused(media, record_id, data, "a.jpg", 422, "sha-256 mismatch", headers, "checksum_mismatch")


def test_malformed_checksum_is_422(media, record_id):
    _refused(media, record_id, jpeg(64, 64), "a.jpg", 422, "sha-256", {"X-Checksum-SHA256": "xyz"})


def test_path_in_the_file_name_never_reaches_a_key(media, record_id):
    _refused(
        media,
        record_id,
        b"root:x:0:0:root:/root:/bin/bash\n",
        "../../etc/passwd",
        415,
        None,
        code="unsupported",
    )
    answer = media.upload(record_id, jpeg(32, 32), "../../etc/passwd")
    assert answer.status_code == 202, answer.text
    asset = answer.json()
    assert asset["filename"] == "passwd"
    assert media.keys(MASTERS_BUCKET, asset["asset_id"]) == [
        f"assets/{asset['asset_id']}/original.jpg"
    ]


def test_not_multipart_is_415(media, record_id):
    answer = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media",
        token=media.token_for("cataloguer"),
        data=jpeg(16, 16),
        headers={"Content-Type": "image/jpeg"},
    )
    assert answer.status_code == 415, answer.text


def test_unknown_record_is_404_and_stores_nothing(media):
    before = set(media.store.list_keys(MASTERS_BUCKET))
    answer = media.upload("00000000-0000-4000-8000-000000000000", jpeg(16, 16), "a.jpg")
    assert answer.status_code == 404, answer.text
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before


def test_researcher_may_not_upload(media, record_id):
    answer = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media",
        token=media.token_for("researcher"),
        files={"file": ("a.jpg", jpeg(16, 16))},
    )
    assert answer.status_code == 403, answer.text
