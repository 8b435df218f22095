from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import pyvips
from PIL import Image, ImageChops

from services.imageserver.tiff import TiffError, jpeg_tile, read_levels
from tests.unit.imageserver.conftest import TILE, write_pyramid


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY)


def test_levels_are_the_pages_libvips_writes_halving_with_floor(pyramid: Path) -> None:
    fd = _open(pyramid)
    try:
        levels = read_levels(fd)
    finally:
        os.close(fd)
    assert [(lv.width, lv.height) for lv in levels] == [
        (1300, 900),
        (650, 450),
        (325, 225),
        (162, 112),
    ]
    assert all(lv.tile_width == TILE and lv.tile_height == TILE for lv in levels)
    assert all(lv.passthrough_capable for lv in levels)
    assert len(levels[0].offsets) == levels[0].columns * levels[0].rows == 6 * 4


@pytest.mark.parametrize(("level", "column", "row"), [(0, 0, 0), (0, 3, 2), (1, 1, 0)])
def test_stored_tile_is_a_complete_jpeg_identical_to_the_decoded_tile(
    pyramid: Path, level: int, column: int, row: int
) -> None:
    fd = _open(pyramid)
    try:
        data = jpeg_tile(fd, read_levels(fd)[level], column, row)
    finally:
        os.close(fd)
    tile = Image.open(io.BytesIO(data))
    assert tile.format == "JPEG" and tile.size == (TILE, TILE)
    page = pyvips.Image.new_from_file(str(pyramid), page=level)
    expected = Image.open(
        io.BytesIO(page.crop(column * TILE, row * TILE, TILE, TILE).pngsave_buffer())
    )
    assert ImageChops.difference(tile.convert("RGB"), expected.convert("RGB")).getbbox() is None


def test_bigtiff_is_read_too(tmp_path: Path) -> None:
    path = write_pyramid(tmp_path / "big.tif", 600, 300, bigtiff=True)
    fd = _open(path)
    try:
        levels = read_levels(fd)
        assert [(lv.width, lv.height) for lv in levels] == [(600, 300), (300, 150), (150, 75)]
        assert jpeg_tile(fd, levels[0], 1, 0)[:2] == b"\xff\xd8"
    finally:
        os.close(fd)


def test_a_tile_outside_the_page_is_refused(pyramid: Path) -> None:
    fd = _open(pyramid)
    try:
        level = read_levels(fd)[0]
        with pytest.raises(TiffError):
            jpeg_tile(fd, level, level.columns, 0)
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a tiff at all", b"II*\x00\x08\x00\x00\x00\xff\xff", b"MM\x00+\x00\x08"],
)
def test_garbage_is_a_tiff_error_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(content)
    fd = _open(path)
    try:
        with pytest.raises(TiffError):
            read_levels(fd)
    finally:
        os.close(fd)


def test_an_untiled_tiff_has_no_levels(tmp_path: Path) -> None:
    path = tmp_path / "strips.tif"
    pyvips.Image.black(64, 64).tiffsave(str(path))
    fd = _open(path)
    try:
        with pytest.raises(TiffError, match="no tiled page"):
            read_levels(fd)
    finally:
        os.close(fd)


def test_rgb_coded_jpeg_tiles_are_not_passed_through() -> None:
    from services.imageserver.tiff import Level

    def level(photometric: int, bands: int) -> Level:
        return Level(512, 512, 512, 512, 7, photometric, bands, (8,), (100,), b"")

    assert level(6, 3).passthrough_capable  # YCbCr
    assert level(1, 1).passthrough_capable  # grey
    assert not level(2, 3).passthrough_capable  # unmarked RGB: read as YCbCr by decoders
    assert not Level(512, 512, 512, 512, 5, 6, 3, (8,), (100,), b"").passthrough_capable


@pytest.mark.parametrize("quality", [75, 95])
def test_libvips_tiles_pass_through_at_any_quality(tmp_path: Path, quality: int) -> None:
    path = tmp_path / "q.tif"
    pyvips.Image.black(600, 600, bands=3).copy(interpretation="srgb").tiffsave(
        str(path), tile=True, pyramid=True, compression="jpeg", Q=quality
    )
    fd = _open(path)
    try:
        assert read_levels(fd)[0].passthrough_capable
    finally:
        os.close(fd)
