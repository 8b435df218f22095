"""Synthetic test files, made on the fly (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pyvips
from PIL import Image, ImageDraw


def gradient(width: int, height: int, bands: int = 3) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / max(width - 1, 1)).cast("uchar")
    g = (x[1] * 255 / max(height - 1, 1)).cast("uchar")
    b = ((x[0] + x[1]) % 256).cast("uchar")
    return r.bandjoin([g, b]) if bands == 3 else r


def jpeg(width: int = 640, height: int = 480) -> bytes:
    return bytes(gradient(width, height).jpegsave_buffer(Q=85))


def png(width: int = 320, height: int = 200) -> bytes:
    return bytes(gradient(width, height).pngsave_buffer())


def tiff(width: int = 800, height: int = 600, **options: object) -> bytes:
    return bytes(gradient(width, height).tiffsave_buffer(**options))


def png_bomb(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A valid PNG header claiming ``width``×``height`` with a tiny IDAT: a decompression bomb.
    ``depth`` and ``colour`` are the IHDR's bit depth and colour type (0 grey, 6 RGBA)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100_000, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_many_pages(pages: int) -> bytes:
    """A little-endian TIFF of ``pages`` 1×1 pages, each page a small IFD (built by hand)."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    entries = [
        (256, 3, 1, 1),
        (257, 3, 1, 1),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 0),
        (277, 3, 1, 1),
        (279, 4, 1, 1),
    ]
    ifd_size = 2 + len(entries) * 12 + 4
    pixel_at = 8 + pages * ifd_size
    for page in range(pages):
        here = 8 + page * ifd_size
        nxt = here + ifd_size if page < pages - 1 else 0
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if tag == 273:
                value = pixel_at
            out += struct.pack("<HHI", tag, typ, count) + (
                struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
            )
        out += struct.pack("<I", nxt)
    out += b"\x80"
    return bytes(out)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)


def pillow_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


# images that compress extremely well and are no bombs (issue #15) ---------------------------


def flat_blocks() -> bytes:
    """1000×1000 RGB of flat colour blocks, like the IIIF validator's test image."""
    image = Image.new("RGB", (1000, 1000))
    draw = ImageDraw.Draw(image)
    for row in range(10):
        for col in range(10):
            colour = ((row * 25) % 256, (col * 25) % 256, ((row + col) * 12) % 256)
            draw.rectangle([col * 100, row * 100, col * 100 + 99, row * 100 + 99], fill=colour)
    return pillow_bytes(image, "PNG", optimize=True)


def a4_grey_scan() -> bytes:
    """An A4 page at 300 dpi (2480×3508), greyscale, nearly white: a flat scan."""
    image = Image.new("L", (2480, 3508), 250)
    ImageDraw.Draw(image).rectangle([200, 200, 2280, 3308], outline=235, width=3)
    return pillow_bytes(image, "PNG", optimize=True)


def line_drawing(size: tuple[int, int] = (1200, 800)) -> bytes:
    """Black lines on white, RGB: a sparse drawing."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([100, 100, size[0] - 100, size[1] - 100], outline="black", width=2)
    for y in range(200, size[1] - 100, 100):
        draw.line([(100, y), (size[0] - 100, y)], fill="black", width=1)
    draw.line([(600, 100), (600, size[1] - 100)], fill=(120, 40, 20), width=2)
    return pillow_bytes(image, "PNG", optimize=True)


def g4_text_page() -> bytes:
    """A 1-bit A4 page at 300 dpi with a few lines of text, CCITT G4 in a TIFF."""
    image = Image.new("1", (2480, 3508), 1)
    draw = ImageDraw.Draw(image)
    for line in range(12):
        draw.text((240, 300 + line * 60), "Di san van hoa Hai Phong - trang 1", fill=0)
    return pillow_bytes(image, "TIFF", compression="group4", dpi=(300, 300))
