"""The media core: names, keys, metadata, limits, refusals mapped to HTTP, glTF counts."""

from __future__ import annotations

import io
import json

import pytest

from services.gateway.media import StreamedMultipart
from services.media import derivatives, domain, schemas
from shared.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("ảnh đình Kênh.jpg", "ảnh đình Kênh.jpg"),
        ("a\x00b;rm -rf.tif", "a_b_rm -rf.tif"),
        ("", ""),
        ("...", ""),
    ],
)
def test_file_names_are_labels_without_paths(name, safe):
    assert domain.safe_filename(name) == safe


def test_master_keys_never_use_the_client_name():
    assert domain.master_key("abc", "tif") == "assets/abc/original.tif"
    assert domain.master_key("abc", "tif", 3) == "assets/abc/v3/original.tif"


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("empty", ValidationFailed),
        ("truncated", ValidationFailed),
        ("too_many_pixels", ValidationFailed),
        ("too_many_pages", ValidationFailed),
        ("decoded_too_large", ValidationFailed),
        ("too_large", PayloadTooLarge),
        ("archive", UnsupportedMediaType),
        ("svg_script", UnsupportedMediaType),
    ],
)
def test_refusals_map_to_client_errors(reason, error):
    converted = domain.Refused(reason, "why").to_client_error()
    assert isinstance(converted, error)
    assert converted.details == {"reason": reason, "text": domain.REFUSAL_TEXT[reason]}


def test_a_failed_asset_says_what_failure_means_in_vietnamese_and_english():
    assert set(domain.FAILURE_TEXT) == {"vi", "en"}
    row = {"id": "a", "record_id": "r", "status": "failed", "failure_reason": "cannot decode"}
    assert schemas.dump_asset(row)["failure_text"] == domain.FAILURE_TEXT
    assert schemas.dump_asset(row | {"status": "ready"})["failure_text"] is None


def test_every_refusal_reason_says_what_it_means_in_vietnamese_and_english():
    assert set(domain.REFUSAL_TEXT) == set(domain.Refused.STATUS)
    for reason, text in domain.REFUSAL_TEXT.items():
        assert set(text) == {"vi", "en"}, reason
        assert text["vi"].strip() and text["en"].strip() and text["vi"] != text["en"], reason


def test_limits_come_from_config_with_defaults():
    limits = domain.MediaLimits.from_config({"max_pixels": "1000"})
    assert limits.max_pixels == 1000 and limits.max_pages == 1000
    with pytest.raises(domain.Refused):
        limits.check_image(100, 11, 1, 3)


def test_levels_halve_until_one_tile_holds_the_image():
    assert domain.levels_of(16_330, 12_250, 512) == 6
    assert domain.levels_of(512, 300, 512) == 1


def test_small_images_get_small_tiles():
    assert derivatives.tile_size(120, 80) == 128
    assert derivatives.tile_size(5000, 10) == 512


def test_gltf_counts_vertices_and_triangles(tmp_path):
    doc = {
        "asset": {"version": "2.0"},
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "accessors": [{"count": 9}],
    }
    path = tmp_path / "m.gltf"
    path.write_text(json.dumps(doc))
    assert derivatives.gltf(path, binary=False).technical["triangles"] == 3
    doc["asset"]["version"] = "1.0"
    path.write_text(json.dumps(doc))
    with pytest.raises(derivatives.DerivativeFailed):
        derivatives.gltf(path, binary=False)


def _body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--B\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + b"--B--\r\n"


def test_streamed_multipart_gives_fields_and_the_file_in_pieces():
    content = bytes(range(256)) * 5000
    raw = _body(("sha256", None, b"abc"), ("file", "x.jpg", content), ("caption_vi", None, b"Hi"))
    body = StreamedMultipart(io.BytesIO(raw), b"B", max_bytes=10**9)
    assert body.open_file() and body.filename == "x.jpg"
    assert body.fields == {"sha256": "abc"}
    assert body.peek(4) == content[:4]
    got = b""
    while chunk := body.read(7000):
        got += chunk
    assert got == content
    assert body.finish() == {"sha256": "abc", "caption_vi": "Hi"}


def test_streamed_multipart_without_a_file_part():
    body = StreamedMultipart(io.BytesIO(_body(("other", None, b"x"))), b"B", max_bytes=10)
    assert body.open_file() is False


def test_streamed_multipart_stops_at_the_size_limit():
    raw = _body(("file", "x.bin", b"x" * 1000))
    body = StreamedMultipart(io.BytesIO(raw), b"B", max_bytes=100)
    body.open_file()
    with pytest.raises(PayloadTooLarge):
        while body.read(64):
            pass
