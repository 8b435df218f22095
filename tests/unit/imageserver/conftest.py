"""Fixtures for the image server's unit tests: small pyramids written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

TILE = 256


def gradient(width: int, height: int) -> pyvips.Image:
    xy = pyvips.Image.xyz(width, height)
    red = (xy[0] * 255 / max(width - 1, 1)).cast("uchar")
    green = (xy[1] * 255 / max(height - 1, 1)).cast("uchar")
    blue = ((xy[0] + xy[1]) % 256).cast("uchar")
    return red.bandjoin([green, blue]).copy(interpretation="srgb")


def write_pyramid(path: Path, width: int, height: int, **options: object) -> Path:
    gradient(width, height).tiffsave(
        str(path),
        tile=True,
        pyramid=True,
        compression="jpeg",
        Q=90,
        tile_width=TILE,
        tile_height=TILE,
        **options,
    )
    return path


@pytest.fixture(scope="session")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1300x900 pyramid with 256-px tiles: pages 1300x900, 650x450, 325x225, 162x112."""
    return write_pyramid(tmp_path_factory.mktemp("pyramid") / "p.tif", 1300, 900)
