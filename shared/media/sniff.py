"""What a file really is, from its bytes: never its name or its declared MIME type.

``detect(head)`` names the format from the first bytes; ``inspect_image`` reads an image's
header (dimensions, pages, bit depth) from a seekable file *before* any pixel is decoded and
checks it against the limits; ``check_complete`` refuses truncated files. No I/O of its own: the
caller passes bytes or a seekable file (a local file, or ``shared.storage.RangedObject``).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import IO, Any

from shared.media.formats import FORMATS, Format, MediaLimits, Refused

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024

_SCRIPT = re.compile(rb"<\s*script|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def detect(head: bytes) -> Format:
    """The format of a file from its first bytes; ``Refused`` for what we do not take."""
    if not head:
        raise Refused("empty", "the file is empty (zero bytes)")
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["png"]
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return FORMATS["tiff"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["webp"]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return FORMATS["jp2"]
    if head.startswith(b"%PDF-"):
        return FORMATS["pdf"]
    if head.startswith(b"glTF"):
        return FORMATS["glb"]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return FORMATS["m4a"]
        if brand == b"qt  ":
            return FORMATS["mov"]
        return FORMATS["mp4"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FORMATS["mkv"]
    if head.startswith(b"fLaC"):
        return FORMATS["flac"]
    if head.startswith(b"OggS"):
        return FORMATS["ogg"]
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return FORMATS["mp3"]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise Refused("archive", "the file is a ZIP archive, whatever its name says")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in text[:4096]:
        if _SCRIPT.search(head):
            raise Refused("svg_script", "SVG with script or event handlers is refused")
        raise Refused("unsupported", "SVG is not accepted: send a raster image (TIFF, PNG, JPEG)")
    if text.startswith(b"{") and b'"asset"' in head:
        return FORMATS["gltf"]
    raise Refused("unsupported", "unrecognised file type (sniffed from its bytes)")


@dataclass
class ImageHeader:
    """What an image's header says, read without decoding pixels."""

    width: int
    height: int
    pages: int = 1
    bands: int = 3
    bit_depth: int = 8
    colour_space: str = "srgb"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _read_at(f: IO[bytes], offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


# TIFF -----------------------------------------------------------------------------------------

_TIFF_TYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}
_PHOTOMETRIC = {0: "b-w", 1: "b-w", 2: "srgb", 3: "palette", 5: "cmyk", 6: "ycbcr", 8: "lab"}


def _tiff(f: IO[bytes], size: int, limits: MediaLimits) -> ImageHeader:
    head = _read_at(f, 0, 16)
    endian = "<" if head[:2] == b"II" else ">"
    big = struct.unpack(endian + "H", head[2:4])[0] == 43
    if big:
        offset = struct.unpack(endian + "Q", head[8:16])[0]
        count_fmt, entry_size, count_size, off_fmt = "Q", 20, 8, "Q"
    else:
        offset = struct.unpack(endian + "I", head[4:8])[0]
        count_fmt, entry_size, count_size, off_fmt = "H", 12, 2, "I"
    seen: set[int] = set()
    pages = 0
    first: dict[int, list[int]] = {}
    while offset:
        if offset in seen:
            raise Refused("malformed", "the TIFF's pages form a loop")
        if offset + count_size > size:
            raise Refused("truncated", "the TIFF is truncated (a page lies past the end)")
        seen.add(offset)
        pages += 1
        if pages > limits.max_pages:
            raise Refused("too_many_pages", f"the TIFF has more than {limits.max_pages} pages")
        raw = _read_at(f, offset, count_size)
        (count,) = struct.unpack(endian + count_fmt, raw)
        table = _read_at(f, offset + count_size, count * entry_size + count_size + 8)
        if len(table) < count * entry_size + (8 if big else 4):
            raise Refused("truncated", "the TIFF is truncated (a page directory is cut)")
        tags = _tiff_tags(f, table, count, entry_size, endian, big, size)
        _check_tiff_data(tags, size)
        if pages == 1:
            first = tags
        next_at = count * entry_size
        (offset,) = struct.unpack(endian + off_fmt, table[next_at : next_at + (8 if big else 4)])
    if not first or 256 not in first or 257 not in first:
        raise Refused("malformed", "the TIFF has no image dimensions")
    bits = first.get(258, [8])
    return ImageHeader(
        width=first[256][0],
        height=first[257][0],
        pages=pages,
        bands=first.get(277, [1])[0],
        bit_depth=max(bits) if bits else 8,
        colour_space=_PHOTOMETRIC.get(first.get(262, [2])[0], "other"),
        extra={"compression": first.get(259, [1])[0]},
    )


_WANTED = {256, 257, 258, 259, 262, 273, 277, 279, 322, 323, 324, 325}


def _tiff_tags(
    f: IO[bytes], table: bytes, count: int, entry_size: int, endian: str, big: bool, size: int
) -> dict[int, list[int]]:
    tags: dict[int, list[int]] = {}
    for i in range(count):
        entry = table[i * entry_size : (i + 1) * entry_size]
        tag, typ = struct.unpack(endian + "HH", entry[:4])
        if tag not in _WANTED or typ not in (3, 4, 16):
            continue
        n = struct.unpack(endian + ("Q" if big else "I"), entry[4 : 12 if big else 8])[0]
        width = _TIFF_TYPES[typ]
        fmt = {3: "H", 4: "I", 16: "Q"}[typ]
        inline = entry[12:20] if big else entry[8:12]
        if n * width <= len(inline):
            data = inline[: n * width]
        else:
            at = struct.unpack(endian + ("Q" if big else "I"), inline)[0]
            if n > 10_000_000 or at + n * width > size:
                raise Refused(
                    "truncated", "the TIFF is truncated (a tag's values lie past the end)"
                )
            data = _read_at(f, at, n * width)
        tags[tag] = list(struct.unpack(f"{endian}{n}{fmt}", data))
    return tags


def _check_tiff_data(tags: dict[int, list[int]], size: int) -> None:
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets and counts:
            end = max(o + c for o, c in zip(offsets, counts, strict=False))
            if end > size:
                raise Refused(
                    "truncated",
                    f"the TIFF is truncated: its image data needs {end} bytes, the file has {size}",
                )


# PNG, JPEG, WebP, JPEG 2000 --------------------------------------------------------------------

_PNG_COLOUR = {0: (1, "b-w"), 2: (3, "srgb"), 3: (1, "palette"), 4: (2, "b-w"), 6: (4, "srgb")}


def _png(f: IO[bytes]) -> ImageHeader:
    head = _read_at(f, 0, 33)
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise Refused("malformed", "the PNG has no IHDR header")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    bands, space = _PNG_COLOUR.get(colour, (3, "srgb"))
    return ImageHeader(width, height, 1, bands, depth, space)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(f: IO[bytes], size: int) -> ImageHeader:
    at = 2
    while at + 4 <= size:
        marker = _read_at(f, at, 4)
        if len(marker) < 4 or marker[0] != 0xFF:
            break
        kind = marker[1]
        if kind == 0xFF:
            at += 1
            continue
        (length,) = struct.unpack(">H", marker[2:4])
        if kind in _SOF:
            sof = _read_at(f, at + 4, 6)
            if len(sof) < 6:
                break
            depth, height, width, bands = struct.unpack(">BHHB", sof)
            space = {1: "b-w", 3: "srgb", 4: "cmyk"}.get(bands, "other")
            return ImageHeader(width, height, 1, bands, depth, space)
        at += 2 + length
    raise Refused("malformed", "the JPEG has no frame header (truncated or malformed)")


def _pillow_header(f: IO[bytes], name: str) -> ImageHeader:
    from PIL import Image

    f.seek(0)
    try:
        with Image.open(f) as im:
            width, height = im.size
            bands = len(im.getbands())
            mode = im.mode
    except Image.DecompressionBombError as exc:
        raise Refused("too_many_pixels", f"the {name} image is too large: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed file
        raise Refused("malformed", f"the {name} header cannot be read: {exc}") from exc
    depth = 16 if mode in ("I;16", "I", "RGB;16") else 8
    space = "cmyk" if mode == "CMYK" else ("b-w" if mode in ("L", "LA", "1", "I;16") else "srgb")
    return ImageHeader(width, height, 1, bands, depth, space)


def inspect_image(f: IO[bytes], size: int, fmt: Format, limits: MediaLimits) -> ImageHeader:
    """Read an image's header and check dimensions, pixel count, pages and decoded size."""
    if fmt.name == "tiff":
        header = _tiff(f, size, limits)
    elif fmt.name == "png":
        header = _png(f)
    elif fmt.name == "jpeg":
        header = _jpeg(f, size)
    else:
        from PIL import Image

        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            header = _pillow_header(f, fmt.name.upper())
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    # libvips decodes a palette to RGB: three bands, whatever the index depth
    bands = max(header.bands, 3) if header.colour_space == "palette" else header.bands
    limits.check_image(header.width, header.height, header.pages, bands, header.bit_depth)
    return header


def check_complete(fmt: Format, tail: bytes) -> None:
    """Refuse a file whose end shows it was cut (the tail is its last bytes)."""
    if fmt.name == "jpeg" and b"\xff\xd9" not in tail:
        raise Refused("truncated", "the JPEG is truncated (no end-of-image marker)")
    if fmt.name == "png" and b"IEND" not in tail[-64:]:
        raise Refused("truncated", "the PNG is truncated (no IEND chunk)")
    if fmt.name == "pdf" and b"%%EOF" not in tail:
        raise Refused("truncated", "the PDF is truncated (no %%EOF)")
