"""Presigned multipart uploads, and the non-image kinds: PDF, audio, video, glTF/GLB."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess

import pytest
import requests

from services.media.domain import MASTERS_BUCKET
from shared.buckets import DERIVATIVES_BUCKET
from tests.integration.media.support import gradient, tiff

pytestmark = pytest.mark.integration


def test_presigned_multipart_upload_goes_straight_to_storage(media):
    record_id = media.new_record()
    token = media.token_for("cataloguer")
    data = tiff(3000, 2000)  # ~18 MB: two parts of 16 MB
    started = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads",
        token=token,
        json={"size": len(data), "content_type": "image/tiff"},
    )
    assert started.status_code == 201, started.text
    plan = started.json()
    assert len(plan["parts"]) == 2
    for part in plan["parts"]:
        offset = (part["part_number"] - 1) * plan["part_size"]
        put = requests.put(part["url"], data=data[offset : offset + plan["part_size"]], timeout=60)
        assert put.status_code == 200, put.text
    done = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads/{plan['asset_id']}/complete",
        token=token,
        json={
            "upload_id": plan["upload_id"],
            "sha256": hashlib.sha256(data).hexdigest(),
            "filename": "scan.tif",
            "metadata": {"caption_vi": "Bản quét"},
        },
    )
    assert done.status_code == 202, done.text
    asset_id = plan["asset_id"]
    asset = media.wait_done(asset_id)
    assert (asset["status"], asset["width"], asset["height"]) == ("ready", 3000, 2000)
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert media.keys(MASTERS_BUCKET, asset_id) == [f"assets/{asset_id}/original.tif"]
    assert not media.store.list_keys(MASTERS_BUCKET, f"uploads/{asset_id}")


def test_presigned_multipart_with_a_wrong_checksum_leaves_nothing(media):
    record_id = media.new_record()
    token = media.token_for("cataloguer")
    data = tiff(200, 100)
    plan = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads",
        token=token,
        json={"size": len(data)},
    ).json()
    requests.put(plan["parts"][0]["url"], data=data, timeout=60).raise_for_status()
    done = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads/{plan['asset_id']}/complete",
        token=token,
        json={"upload_id": plan["upload_id"], "sha256": "0" * 64},
    )
    assert done.status_code == 422, done.text
    assert not media.store.list_keys(MASTERS_BUCKET, f"uploads/{plan['asset_id']}")
    assert not media.keys(MASTERS_BUCKET, plan["asset_id"])


def _ready(media, data: bytes, name: str) -> dict:
    answer = media.upload(media.new_record(), data, name)
    assert answer.status_code == 202, answer.text
    return media.wait_done(answer.json()["asset_id"])


def test_pdf_gets_its_page_count_and_one_image_per_page(media):
    pages = [gradient(600, 800) for _ in range(3)]
    pdf = _make_pdf(pages)
    asset = _ready(media, pdf, "manuscript.pdf")
    assert asset["status"] == "ready", asset
    assert asset["technical"]["pages"] == 3
    keys = media.keys(DERIVATIVES_BUCKET, asset["asset_id"])
    assert sum("/pages/" in k for k in keys) == 3


def _make_pdf(pages) -> bytes:
    from PIL import Image

    images = [Image.frombytes("RGB", (p.width, p.height), p.write_to_memory()) for p in pages]
    import io

    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:])
    return buf.getvalue()


needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="Debian package ffmpeg is not installed"
)


def _ffmpeg(tmp_path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True, timeout=120)
    return out.read_bytes()


@needs_ffmpeg
def test_video_gets_duration_format_and_a_poster_frame(media, tmp_path):
    data = _ffmpeg(
        tmp_path,
        "festival.mp4",
        "-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=10",
        "-pix_fmt", "yuv420p",
    )  # fmt: skip
    asset = _ready(media, data, "festival.mp4")
    assert asset["status"] == "ready", asset
    assert abs(asset["technical"]["duration"] - 3.0) < 0.2
    assert asset["technical"]["video_codec"] == "h264"
    assert (asset["width"], asset["height"]) == (320, 240)
    assert f"assets/{asset['asset_id']}/poster.jpg" in media.keys(
        DERIVATIVES_BUCKET, asset["asset_id"]
    )


@needs_ffmpeg
def test_audio_gets_duration_and_format(media, tmp_path):
    data = _ffmpeg(tmp_path, "chant.flac", "-f", "lavfi", "-i", "sine=frequency=440:duration=2")
    asset = _ready(media, data, "chant.flac")
    assert asset["status"] == "ready", asset
    assert abs(asset["technical"]["duration"] - 2.0) < 0.1
    assert asset["technical"]["audio_codec"] == "flac"


def _glb(doc: dict, declared_length: int | None = None) -> bytes:
    raw = json.dumps(doc).encode()
    raw += b" " * (-len(raw) % 4)
    body = struct.pack("<I4s", len(raw), b"JSON") + raw
    length = 12 + len(body)
    return struct.pack("<4sII", b"glTF", 2, declared_length or length) + body


TRIANGLE = {
    "asset": {"version": "2.0"},
    "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
    "accessors": [
        {"count": 4, "componentType": 5126, "type": "VEC3"},
        {"count": 6, "componentType": 5123, "type": "SCALAR"},
    ],
}


def test_glb_is_validated_and_counted(media):
    asset = _ready(media, _glb(TRIANGLE), "stele.glb")
    assert asset["status"] == "ready", asset
    assert asset["technical"]["vertices"] == 4
    assert asset["technical"]["triangles"] == 2


def test_gltf_json_is_validated_and_counted(media):
    asset = _ready(media, json.dumps(TRIANGLE).encode(), "stele.gltf")
    assert asset["status"] == "ready", asset
    assert asset["technical"]["triangles"] == 2


def test_a_glb_with_a_wrong_length_fails_with_a_reason(media):
    asset = _ready(media, _glb(TRIANGLE, declared_length=9999), "broken.glb")
    assert asset["status"] == "failed"
    assert "truncated" in asset["failure_reason"]
