"""Format sniffing and header checks from bytes alone (no S3, no decoding)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from services.media.domain import FORMATS, MediaLimits, Refused
from shared.media import sniff
from tests.integration.media.support import a4_grey_scan, flat_blocks, g4_text_page, line_drawing


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


def test_png_header_over_the_pixel_limit_is_refused_before_decoding_naming_the_limit():
    data = _png(50_000, 50_000)
    with pytest.raises(Refused) as caught:
        sniff.inspect_image(io.BytesIO(data), len(data), FORMATS["png"], MediaLimits())
    assert caught.value.reason == "too_many_pixels"
    assert "2,500,000,000 pixels" in caught.value.message
    assert "max_pixels = 1,000,000,000" in caught.value.message


def _png_header(width: int, height: int, depth: int, colour: int) -> bytes:
    """A PNG that is only a header and a tiny IDAT: what a decompression bomb shows first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _inspect(data: bytes, fmt: str, limits: MediaLimits | None = None) -> sniff.ImageHeader:
    return sniff.inspect_image(io.BytesIO(data), len(data), FORMATS[fmt], limits or MediaLimits())


@pytest.mark.parametrize(
    ("maker", "fmt", "bands"),
    [
        (flat_blocks, "png", 3),
        (a4_grey_scan, "png", 1),
        (line_drawing, "png", 3),
        (g4_text_page, "tiff", 1),
    ],
    ids=["flat-blocks-1000", "a4-grey-scan-300dpi", "line-drawing-1200x800", "g4-text-page"],
)
def test_images_that_compress_extremely_well_are_no_bombs(maker, fmt, bands):
    data = maker()
    header = _inspect(data, fmt)  # nothing raised: decoded size is far below the limit
    pixels_per_byte = header.pixels * header.bands / len(data)
    assert header.bands == bands
    assert pixels_per_byte > 500, f"the test image should expand >500× ({pixels_per_byte:.0f}×)"


def test_a_bomb_under_the_pixel_limit_is_refused_by_its_decoded_size_naming_the_limit():
    data = _png_header(30_000, 30_000, 16, 6)  # 0.9 gigapixel of 16-bit RGBA: 7.2 GB decoded
    with pytest.raises(Refused) as caught:
        _inspect(data, "png")
    assert caught.value.reason == "decoded_too_large"
    message = caught.value.message
    assert "30000×30000 pixels × 4 bands × 2 bytes = 7,200,000,000 bytes" in message
    assert "max_decoded_bytes = 6,000,000,000" in message


def test_the_decoded_size_limit_is_configurable():
    data = _png_header(4000, 4000, 8, 2)  # 48 MB decoded
    limits = MediaLimits.from_config({"max_decoded_bytes": 40_000_000})
    with pytest.raises(Refused) as caught:
        _inspect(data, "png", limits)
    assert caught.value.reason == "decoded_too_large"
    assert "48,000,000 bytes" in caught.value.message
    assert _inspect(data, "png").pixels == 16_000_000


def test_a_palette_counts_as_the_three_bands_it_decodes_to():
    data = _png_header(20_000, 20_000, 8, 3)  # 400 MP of palette indices: 1.2 GB decoded
    limits = MediaLimits(max_decoded_bytes=1_000_000_000)
    with pytest.raises(Refused, match="3 bands × 1 bytes") as caught:
        _inspect(data, "png", limits)
    assert caught.value.reason == "decoded_too_large"


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
