"""Format sniffing and header checks from bytes alone (no S3, no decoding)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from services.media import sniff
from services.media.domain import FORMATS, MediaLimits, Refused


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "png"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
        (b"%PDF-1.7\n", "pdf"),
        (b"glTF\x02\x00\x00\x00", "glb"),
        (b"\x00\x00\x00\x18ftypisom", "mp4"),
        (b"fLaC\x00", "flac"),
        (b'{"asset": {"version": "2.0"}}', "gltf"),
    ],
)
def test_formats_are_named_from_their_bytes(head, name):
    assert sniff.detect(head).name == name


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "empty"),
        (b"PK\x03\x04rest", "archive"),
        (b"<svg><script>alert(1)</script></svg>", "svg_script"),
        (b'<svg onload="x()"></svg>', "svg_script"),
        (b"<svg></svg>", "unsupported"),
        (b"root:x:0:0:root:/root:/bin/bash", "unsupported"),
    ],
)
def test_what_we_do_not_take_is_refused_with_a_reason(head, reason):
    with pytest.raises(Refused) as caught:
        sniff.detect(head)
    assert caught.value.reason == reason


def test_png_header_over_the_pixel_limit_is_refused_before_decoding():
    data = _png(50_000, 50_000)
    with pytest.raises(Refused) as caught:
        sniff.inspect_image(io.BytesIO(data), len(data), FORMATS["png"], MediaLimits())
    assert caught.value.reason == "too_many_pixels"


def test_png_header_under_the_limit_but_a_bomb_is_refused_by_ratio():
    data = _png(10_000, 10_000)
    with pytest.raises(Refused) as caught:
        sniff.inspect_image(io.BytesIO(data), len(data), FORMATS["png"], MediaLimits())
    assert caught.value.reason == "decompression_ratio"


def test_png_header_gives_dimensions():
    data = _png(30, 20)
    header = sniff.inspect_image(io.BytesIO(data), len(data), FORMATS["png"], MediaLimits())
    assert (header.width, header.height, header.bands) == (30, 20, 3)


def test_a_tiff_page_loop_is_malformed():
    ifd = struct.pack("<H", 0) + struct.pack("<I", 8)  # no entries, next IFD = itself
    data = b"II*\x00" + struct.pack("<I", 8) + ifd
    with pytest.raises(Refused) as caught:
        sniff.inspect_image(io.BytesIO(data), len(data), FORMATS["tiff"], MediaLimits())
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    ("name", "tail"),
    [("jpeg", b"\x00\x01\x02"), ("png", b"IDAT\x00\x00"), ("pdf", b"endobj\n")],
)
def test_cut_files_are_truncated(name, tail):
    with pytest.raises(Refused) as caught:
        sniff.check_complete(FORMATS[name], tail)
    assert caught.value.reason == "truncated"
