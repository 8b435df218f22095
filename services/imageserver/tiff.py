"""Just enough TIFF to find a pyramid's levels and copy stored JPEG tiles out unchanged.

libvips ``tiffsave(pyramid=True)`` writes each level as its own page (IFD) in the main chain,
halving (floor) at each step. For passthrough we need each page's size, tile size,
compression, ``TileOffsets``/``TileByteCounts`` and ``JPEGTables``; nothing is decoded here.
Classic TIFF and BigTIFF, both byte orders; every count and offset is bounded.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from dataclasses import dataclass

__all__ = ["Level", "TiffError", "jpeg_tile", "read_levels"]

MAX_PAGES = 64
MAX_TILES = 4_000_000
MAX_TABLES = 65_536
MAX_TILE_BYTES = 64 * 1024 * 1024

COMPRESSION_JPEG = 7
PHOTOMETRIC_MINISBLACK = 1
PHOTOMETRIC_RGB = 2
PHOTOMETRIC_YCBCR = 6

_TYPES = {
    1: ("B", 1),
    2: ("B", 1),
    3: ("H", 2),
    4: ("I", 4),
    7: ("B", 1),
    13: ("I", 4),
    16: ("Q", 8),
}
_WANTED = {256, 257, 259, 262, 277, 322, 323, 324, 325, 347}


class TiffError(Exception):
    """The file is not a TIFF this server can read."""


@dataclass(frozen=True)
class Level:
    """One page of the pyramid."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    compression: int
    photometric: int
    bands: int
    offsets: tuple[int, ...]
    byte_counts: tuple[int, ...]
    jpeg_tables: bytes
    #: The first tile carries an Adobe APP14 marker (RGB-coded JPEG declared as such).
    rgb_marked: bool = False

    @property
    def columns(self) -> int:
        return -(-self.width // self.tile_width)

    @property
    def rows(self) -> int:
        return -(-self.height // self.tile_height)

    @property
    def passthrough_capable(self) -> bool:
        """Tiles are JPEG streams a browser shows as they are.

        Three-band tiles are YCbCr (libvips below Q90) or RGB with an Adobe marker saying
        so (libjpeg adds one; libvips at Q90 and above): a decoder assumes YCbCr for a
        three-component JPEG without that marker, so unmarked RGB tiles would show false
        colours and are rendered instead.
        """
        return (
            self.compression == COMPRESSION_JPEG
            and (
                (self.bands == 3 and self.photometric == PHOTOMETRIC_YCBCR)
                or (self.bands == 3 and self.photometric == PHOTOMETRIC_RGB and self.rgb_marked)
                or (self.bands == 1 and self.photometric == PHOTOMETRIC_MINISBLACK)
            )
            and len(self.offsets) == self.columns * self.rows
        )


def _pread(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise TiffError("unexpected end of file")
    return data


def read_levels(fd: int) -> list[Level]:
    """Every tiled page of the TIFF open on ``fd``, in file order (full size first)."""
    head = _pread(fd, 16, 0) if os.fstat(fd).st_size >= 16 else _pread(fd, 8, 0)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise TiffError("not a TIFF file")
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic == 42:
        big = False
        (offset,) = struct.unpack(order + "I", head[4:8])
    elif magic == 43:
        big = True
        (offset,) = struct.unpack(order + "Q", head[8:16])
    else:
        raise TiffError("not a TIFF file")
    levels: list[Level] = []
    seen: set[int] = set()
    while offset and len(levels) < MAX_PAGES:
        if offset in seen:
            raise TiffError("IFD loop")
        seen.add(offset)
        tags, offset = _read_ifd(fd, order, big, offset)
        if 322 not in tags or 324 not in tags:
            continue  # a stripped page (e.g. a thumbnail) is of no use for tiles
        level = _level(tags)
        if level.photometric == PHOTOMETRIC_RGB and level.offsets and level.byte_counts[0] > 0:
            head = os.pread(fd, min(256, level.byte_counts[0]), level.offsets[0])
            marker = head.find(b"\xff\xee")
            adobe = marker >= 0 and head[marker + 4 : marker + 9] == b"Adobe"
            level = dataclasses.replace(level, rgb_marked=adobe)
        levels.append(level)
    if not levels:
        raise TiffError("the TIFF has no tiled page")
    return levels


def _read_ifd(
    fd: int, order: str, big: bool, offset: int
) -> tuple[dict[int, tuple[int, ...] | bytes], int]:
    count_fmt, entry_size, next_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
    count_size = struct.calcsize(count_fmt)
    (count,) = struct.unpack(order + count_fmt, _pread(fd, count_size, offset))
    if count > 4096:
        raise TiffError("implausible IFD")
    body = _pread(fd, count * entry_size + struct.calcsize(next_fmt), offset + count_size)
    tags: dict[int, tuple[int, ...] | bytes] = {}
    inline = 8 if big else 4
    for index in range(count):
        entry = body[index * entry_size : (index + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag not in _WANTED or kind not in _TYPES:
            continue
        n = struct.unpack(order + ("Q" if big else "I"), entry[4 : 4 + (8 if big else 4)])[0]
        code, size = _TYPES[kind]
        limit = MAX_TABLES if tag == 347 else MAX_TILES
        if n > limit:
            raise TiffError(f"tag {tag} has too many values")
        total = n * size
        value_field = entry[entry_size - inline :]
        if total <= inline:
            raw = value_field[:total]
        else:
            (pointer,) = struct.unpack(order + ("Q" if big else "I"), value_field)
            raw = _pread(fd, total, pointer)
        if tag == 347 or kind in (2, 7):
            tags[tag] = bytes(raw)
        else:
            tags[tag] = struct.unpack(f"{order}{n}{code}", raw)
    (next_offset,) = struct.unpack(order + next_fmt, body[count * entry_size :])
    return tags, next_offset


def _first(tags: dict[int, tuple[int, ...] | bytes], tag: int, default: int | None = None) -> int:
    value = tags.get(tag)
    if isinstance(value, tuple) and value:
        return int(value[0])
    if default is None:
        raise TiffError(f"required tag {tag} is missing")
    return default


def _level(tags: dict[int, tuple[int, ...] | bytes]) -> Level:
    offsets = tags.get(324, ())
    counts = tags.get(325, ())
    if not isinstance(offsets, tuple) or not isinstance(counts, tuple):
        raise TiffError("bad tile tables")
    if len(offsets) != len(counts):
        raise TiffError("TileOffsets and TileByteCounts differ in length")
    tables = tags.get(347, b"")
    level = Level(
        width=_first(tags, 256),
        height=_first(tags, 257),
        tile_width=_first(tags, 322),
        tile_height=_first(tags, 323),
        compression=_first(tags, 259, 1),
        photometric=_first(tags, 262, 0),
        bands=_first(tags, 277, 1),
        offsets=tuple(int(o) for o in offsets),
        byte_counts=tuple(int(c) for c in counts),
        jpeg_tables=tables if isinstance(tables, bytes) else b"",
    )
    if min(level.width, level.height, level.tile_width, level.tile_height) < 1:
        raise TiffError("zero-sized page or tile")
    return level


def jpeg_tile(fd: int, level: Level, column: int, row: int) -> bytes:
    """The stored JPEG tile at ``column``, ``row`` of ``level`` as a complete JPEG file.

    TIFF keeps the quantisation and Huffman tables once per page (``JPEGTables``, itself a
    SOI ... EOI stream); each tile is an abbreviated stream. Splicing the tables in after
    the tile's SOI gives an interchange JPEG any decoder reads.
    """
    if not (0 <= column < level.columns and 0 <= row < level.rows):
        raise TiffError("tile outside the page")
    index = row * level.columns + column
    size = level.byte_counts[index]
    if not 0 < size <= MAX_TILE_BYTES:
        raise TiffError("implausible tile size")
    data = _pread(fd, size, level.offsets[index])
    if data[:2] != b"\xff\xd8":
        raise TiffError("the tile is not a JPEG stream")
    tables = level.jpeg_tables
    if tables:
        if tables[:2] != b"\xff\xd8" or tables[-2:] != b"\xff\xd9":
            raise TiffError("JPEGTables is not a JPEG tables stream")
        return b"\xff\xd8" + tables[2:-2] + data[2:]
    return data
