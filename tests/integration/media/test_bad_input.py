"""Every bad input of the issue gets a clear 4xx and leaves no object behind."""

from __future__ import annotations

import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from services.media.domain import MASTERS_BUCKET, REFUSAL_TEXT
from tests.integration.media.conftest import sha
from tests.integration.media.support import (
    SVG_WITH_SCRIPT,
    a4_grey_scan,
    flat_blocks,
    g4_text_page,
    jpeg,
    line_drawing,
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


def test_png_decompression_bomb_over_the_pixel_limit_is_422_naming_the_limit(media, record_id):
    _refused(
        media,
        record_id,
        png_bomb(100_000, 100_000),
        "bomb.png",
        422,
        "max_pixels = 1,000,000,000",
        code="too_many_pixels",
    )


def test_png_bomb_under_the_pixel_limit_is_refused_by_its_decoded_size(media, record_id):
    # 0.9 gigapixel of 16-bit RGBA in a few KB: 7.2 GB once decoded; not "payload too large"
    error = _refused(
        media,
        record_id,
        png_bomb(30_000, 30_000, depth=16, colour=6),
        "bomb2.png",
        422,
        "× 4 bands × 2 bytes = 7,200,000,000 bytes",
        code="decoded_too_large",
    )
    assert "max_decoded_bytes = 6,000,000,000" in error["message"]


@pytest.mark.parametrize(
    ("maker", "name"),
    [
        (flat_blocks, "blocks.png"),
        (a4_grey_scan, "scan.png"),
        (line_drawing, "drawing.png"),
        (g4_text_page, "page.tif"),
    ],
)
def test_images_that_compress_extremely_well_are_taken_and_made_ready(
    media, record_id, maker, name
):
    data = maker()
    answer = media.upload(record_id, data, name)
    assert answer.status_code == 202, answer.text
    asset = media.wait_done(answer.json()["asset_id"], timeout=120)
    assert asset["status"] == "ready", asset


def test_tiff_with_100000_pages_is_422(media, record_id):
    _refused(
        media, record_id, tiff_many_pages(100_000), "pages.tif", 422, "pages", code="too_many_pages"
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


def _file_then_fields(data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body whose form fields come after the file (requests puts them first)."""
    boundary = "disan-bad-input-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data
    for name, value in fields.items():
        body += (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}'
        ).encode()
    return body + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_form_fields_over_64_kb_after_the_file_are_413_and_leave_nothing(media, record_id):
    asset_id = media.upload(record_id, jpeg(32, 32), "a.jpg").json()["asset_id"]
    body, content_type = _file_then_fields(jpeg(64, 64), {"caption_vi": "x" * 70_000})
    before = set(media.store.list_keys(MASTERS_BUCKET))
    for path in (f"/api/v1/records/{record_id}/media", f"/api/v1/media/{asset_id}/versions"):
        answer = media.request(
            "POST",
            path,
            token=media.token_for("cataloguer"),
            data=body,
            headers={"Content-Type": content_type},
        )
        assert answer.status_code == 413, (path, answer.text)
        assert set(media.store.list_keys(MASTERS_BUCKET)) == before, path


def test_replacing_a_deleted_asset_is_409_and_leaves_nothing(media, record_id):
    asset_id = media.upload(record_id, jpeg(32, 32), "a.jpg").json()["asset_id"]
    token = media.token_for("cataloguer")
    assert media.request("DELETE", f"/api/v1/media/{asset_id}", token=token).status_code == 200
    before = set(media.store.list_keys(MASTERS_BUCKET))
    answer = media.request(
        "POST",
        f"/api/v1/media/{asset_id}/versions",
        token=token,
        files={"file": ("b.jpg", jpeg(48, 48))},
    )
    assert answer.status_code == 409, answer.text
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before
    # the service removes a staged file it will not register (a gateway that did not ask first)
    staged = f"uploads/{uuid.uuid4()}.jpg"
    media.store.put_bytes(MASTERS_BUCKET, staged, jpeg(48, 48), "image/jpeg")
    with ServiceRpcProxy(media.media_schema, media.media_config) as rpc:
        with pytest.raises(RemoteError, match="Conflict"):
            rpc.replace_master({"kind": "user", "id": "t"}, asset_id, staged, sha(b"x"), "b.jpg")
    assert not media.store.exists(MASTERS_BUCKET, staged)


def test_a_presigned_upload_larger_than_the_limit_is_413(media, record_id):
    answer = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads",
        token=media.token_for("cataloguer"),
        json={"size": 10**15},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["details"]["reason"] == "too_large"
