"""Open pyramids and render IIIF requests with pyvips (which releases the GIL while it works).

An :class:`AssetHandle` keeps the file open and one pyvips image per page, so the TIFF
directory is parsed once per worker, not once per tile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import IO, Any

import pyvips

from iiif.image import Format, Quality, ResolvedRequest
from services.imageserver.caches import SourceFile
from services.imageserver.plan import LevelSize, Plan, TileRef
from services.imageserver.tiff import Level, jpeg_tile, read_levels

__all__ = ["PAGE_REUSE", "AssetHandle", "configure_vips", "render"]

#: Renders a thread does with one pyvips page before reopening it (see AssetHandle.page).
PAGE_REUSE = 32


def configure_vips() -> None:
    """One libvips thread per render (parallelism comes from concurrent requests) and no
    operation cache (rendered tiles have their own cache), so memory stays bounded.

    libvips' own info messages (several per render: "threadpool completed", "reduceh: ...")
    reach the ``pyvips`` logger at INFO; under load that was thousands of JSON log lines a
    second, so only its warnings and errors are logged."""
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    pyvips.vips_lib.vips_concurrency_set(1)
    pyvips.voperation.cache_set_max(0)
    pyvips.voperation.cache_set_max_mem(0)
    pyvips.voperation.cache_set_max_files(0)


class AssetHandle:
    """An open pyramid: its pages' geometry, tile tables and lazily opened pyvips pages."""

    def __init__(self, asset_id: str, source: SourceFile) -> None:
        self.asset_id = asset_id
        self.source = source
        self.file: IO[bytes] = open(source.path, "rb", buffering=0)  # noqa: SIM115 - kept open
        try:
            self.levels: list[Level] = read_levels(self.file.fileno())
        except Exception:
            self.file.close()
            raise
        self.sizes = [
            LevelSize(lv.width, lv.height, lv.tile_width, lv.tile_height) for lv in self.levels
        ]
        self.capable = [lv.passthrough_capable for lv in self.levels]
        self.opened_at = time.monotonic()
        self._local = threading.local()

    @property
    def width(self) -> int:
        return self.levels[0].width

    @property
    def height(self) -> int:
        return self.levels[0].height

    @property
    def tile_width(self) -> int:
        return self.levels[0].tile_width

    @property
    def tile_height(self) -> int:
        return self.levels[0].tile_height

    def still_valid(self) -> bool:
        """The cached file this handle reads is still the one in the source cache."""
        try:
            return os.stat(self.source.path).st_ino == os.fstat(self.file.fileno()).st_ino
        except OSError:
            return False

    def page(self, index: int) -> Any:
        """A pyvips image of page ``index`` for the calling thread.

        Pages are per thread and reopened after ``PAGE_REUSE`` renders: libvips keeps
        per-thread buffers for an image until the image is freed, and pages shared by the
        render threads for good grew a worker by hundreds of MB under load (measured);
        reopening costs ~0.7 ms, so every 32 renders it is noise.
        """
        pages: dict[int, list[Any]] | None = getattr(self._local, "pages", None)
        if pages is None:
            pages = self._local.pages = {}
        entry = pages.get(index)
        if entry is None or entry[1] >= PAGE_REUSE:
            # A tiled TIFF reads any tile on demand whatever the hint; "random" would also
            # wrap each page in a tile cache of its own.
            image = pyvips.Image.new_from_file(
                str(self.source.path), page=index, access="sequential", fail_on="warning"
            )
            entry = pages[index] = [image, 0]
        entry[1] += 1
        return entry[0]

    def passthrough(self, tile: TileRef) -> bytes:
        """The stored JPEG tile as a complete JPEG, read straight from the file."""
        return jpeg_tile(self.file.fileno(), self.levels[tile.level], tile.column, tile.row)


def _exact_size(image: Any, width: int, height: int) -> Any:
    if image.width > width or image.height > height:
        image = image.crop(0, 0, min(width, image.width), min(height, image.height))
    if image.width < width or image.height < height:
        image = image.gravity("north-west", width, height, extend="copy")
    return image


def render(handle: AssetHandle, resolved: ResolvedRequest, plan: Plan, quality: int) -> bytes:
    """Crop, scale, mirror, rotate, apply quality and encode, in the order of the spec."""
    image = handle.page(plan.level).crop(plan.x, plan.y, plan.width, plan.height)
    width, height = resolved.width, resolved.height
    if (image.width, image.height) != (width, height):
        image = image.resize(width / image.width, vscale=height / image.height)
        image = _exact_size(image, width, height)
    if resolved.mirror:
        image = image.fliphor()
    image = _rotate(image, resolved.rotation, resolved.format)
    if resolved.quality is Quality.GRAY:
        image = _gray(image)
    elif resolved.quality is Quality.BITONAL:
        image = _gray(image) >= 128
    return _encode(image, resolved.format, quality)


def _gray(image: Any) -> Any:
    if image.hasalpha():
        alpha = image[image.bands - 1]
        return image.extract_band(0, n=image.bands - 1).colourspace("b-w")[0].bandjoin(alpha)
    return image.colourspace("b-w")[0] if image.bands >= 3 else image


def _rotate(image: Any, degrees: float, fmt: Format) -> Any:
    if degrees == 0:
        return image
    if degrees == 90:
        return image.rot90()
    if degrees == 180:
        return image.rot180()
    if degrees == 270:
        return image.rot270()
    if fmt in (Format.PNG, Format.WEBP, Format.GIF, Format.TIF) and not image.hasalpha():
        image = image.bandjoin(255)  # transparent corners where the format has alpha
        background = [0] * image.bands
    else:
        background = [255] * image.bands
    # An arbitrary turn reads its input in no useful order; from the lazy pipeline each output
    # tile re-decoded and re-scaled the source (36 s for a 5590x4472 image, measured), from
    # memory it takes ~1 s. The scaled image is within maxArea, so this is bounded.
    return image.copy_memory().rotate(degrees, background=background)


def _encode(image: Any, fmt: Format, quality: int) -> bytes:
    if fmt is Format.JPG:
        if image.hasalpha():
            image = image.flatten(background=[255] * (image.bands - 1))
        return bytes(image.jpegsave_buffer(Q=quality, keep="none"))
    if fmt is Format.PNG:
        return bytes(image.pngsave_buffer(compression=3, keep="none"))
    if fmt is Format.WEBP:
        return bytes(image.webpsave_buffer(Q=quality, keep="none"))
    if fmt is Format.TIF:
        return bytes(image.tiffsave_buffer(compression="deflate", keep="none"))
    return bytes(image.gifsave_buffer(keep="none"))
