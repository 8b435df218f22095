"""The derivative worker on every image flavour, and the image server serving what it made."""

from __future__ import annotations

import pytest
import pyvips
import requests
from PIL import Image, ImageCms

from services.media.domain import FAILURE_TEXT
from shared.buckets import DERIVATIVES_BUCKET, derivative_key
from tests.integration.imageserver.support import ServerProcess
from tests.integration.media.support import gradient, jpeg, pillow_bytes, tiff

pytestmark = pytest.mark.integration


def _pil_gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    return Image.frombytes(
        "RGB", (width, height), gradient(width, height).write_to_memory()
    ).convert(mode)


def _tiff16() -> bytes:
    # ushort * 257 is a uint image in libvips: cast back, or the TIFF has 32-bit samples
    image = (gradient(300, 200).cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")
    return bytes(image.tiffsave_buffer())


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return pillow_bytes(_pil_gradient(300, 200), "JPEG", exif=exif.tobytes())


def _icc_png() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return pillow_bytes(_pil_gradient(300, 200), "PNG", icc_profile=profile)


CASES = {
    "tiff": (lambda: tiff(1200, 900, compression="deflate"), "a.tif", (1200, 900)),
    "png-alpha": (
        lambda: pillow_bytes(_pil_gradient(300, 200, "RGBA"), "PNG"),
        "a.png",
        (300, 200),
    ),
    "webp": (lambda: bytes(gradient(300, 200).webpsave_buffer()), "a.webp", (300, 200)),
    "jpeg2000": (lambda: pillow_bytes(_pil_gradient(300, 200), "JPEG2000"), "a.jp2", (300, 200)),
    "tiff-16-bit": (_tiff16, "a16.tif", (300, 200)),
    "grey-16-bit-png": (
        lambda: bytes(
            (gradient(300, 200, 1).cast("ushort") * 257)
            .copy(interpretation="grey16")
            .pngsave_buffer()
        ),
        "g16.png",
        (300, 200),
    ),
    "cmyk-jpeg": (
        lambda: pillow_bytes(_pil_gradient(300, 200, "CMYK"), "JPEG"),
        "c.jpg",
        (300, 200),
    ),
    "exif-orientation": (_exif_rotated, "r.jpg", (200, 300)),
    "icc-profile": (_icc_png, "icc.png", (300, 200)),
}


# what the technical metadata says of the master, read from its header at ingest
COLOUR = {
    "tiff": ("srgb", 8),
    "tiff-16-bit": ("srgb", 16),
    "grey-16-bit-png": ("b-w", 16),
    "cmyk-jpeg": ("cmyk", 8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_image_flavours_become_8_bit_srgb_pyramids(media, case):
    make, name, (width, height) = CASES[case]
    answer = media.upload(media.new_record(), make(), name)
    assert answer.status_code == 202, answer.text
    asset = media.wait_done(answer.json()["asset_id"])
    assert asset["status"] == "ready", asset
    assert (asset["width"], asset["height"]) == (width, height)
    pyramid = pyvips.Image.new_from_buffer(
        media.store.get_bytes(DERIVATIVES_BUCKET, derivative_key(asset["asset_id"])), ""
    )
    assert (pyramid.width, pyramid.height) == (width, height)
    assert pyramid.format == "uchar" and pyramid.bands in (1, 3)
    assert pyramid.get("n-pages") == asset["levels"]
    technical = asset["technical"]
    assert (technical["width"], technical["height"]) == (width, height)
    assert technical["size"] == asset["size"] > 0
    if case in COLOUR:
        assert (technical["colour_space"], technical["bit_depth"]) == COLOUR[case], technical


def test_image_server_serves_the_pyramid_the_worker_made(media, test_env, tmp_path):
    answer = media.upload(media.new_record(), jpeg(1500, 1000), "big.jpg")
    asset_id = answer.json()["asset_id"]
    assert media.wait_done(asset_id)["status"] == "ready"
    server = ServerProcess(test_env, tmp_path / "cache")
    server.start()
    try:
        info = requests.get(f"{server.url}/iiif/image/3/{asset_id}/info.json", timeout=30).json()
        assert (info["width"], info["height"]) == (1500, 1000)
        assert info["tiles"][0]["width"] == 512
        tile = requests.get(
            f"{server.url}/iiif/image/3/{asset_id}/0,0,512,512/512,/0/default.jpg", timeout=30
        )
        assert tile.status_code == 200 and tile.headers["Content-Type"] == "image/jpeg"
        full = requests.get(f"{server.url}/iiif/image/3/{asset_id}/full/300,/0/default.png")
        im = pyvips.Image.new_from_buffer(full.content, "")
        assert (im.width, im.height) == (300, 200)
    finally:
        server.stop()


def test_an_undecodable_image_fails_with_a_reason(media):
    data = bytearray(jpeg(400, 300))
    data[400:2000] = b"\x00" * 1600  # scan data destroyed, markers at both ends intact
    answer = media.upload(media.new_record(), bytes(data), "broken.jpg")
    assert answer.status_code == 202, answer.text
    asset_id = answer.json()["asset_id"]
    asset = media.wait_done(asset_id)
    assert asset["status"] == "failed"
    assert "decode" in asset["failure_reason"]
    assert asset["failure_text"] == FAILURE_TEXT  # for people, in vi and en
    failed = media.media_outbox("media.asset_failed", asset_id)
    assert len(failed) == 1 and failed[0]["data"]["reason"] == asset["failure_reason"]
