"""Pure planning: which pyramid level serves a resolved request, and whether a stored tile can
be sent as it is (passthrough). No I/O; unit-tested on its own."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from iiif.image import Format, ImageRequest, Quality, ResolvedRequest, SizeKind

__all__ = [
    "LevelSize",
    "Plan",
    "TileRef",
    "confined_needs_upscale",
    "find_passthrough",
    "plan_render",
    "rotated_canvas_over_limits",
]

#: Qualities that leave a colour tile's pixels unchanged.
_PASSTHROUGH_QUALITIES = (Quality.DEFAULT, Quality.COLOR)


@dataclass(frozen=True)
class LevelSize:
    """A pyramid page: its size and tile size (page 0 is the full image)."""

    width: int
    height: int
    tile_width: int
    tile_height: int


@dataclass(frozen=True)
class TileRef:
    """A stored tile: page ``level``, ``column``, ``row``."""

    level: int
    column: int
    row: int


@dataclass(frozen=True)
class Plan:
    """Crop ``x, y, width, height`` of page ``level``, then scale to the request's size."""

    level: int
    x: int
    y: int
    width: int
    height: int


def find_passthrough(
    resolved: ResolvedRequest, levels: list[LevelSize], capable: list[bool]
) -> TileRef | None:
    """The stored tile that is exactly this request, if any.

    The request must be unrotated, unmirrored, default (or color) quality, JPEG, and its
    region must be one whole tile of a page scaled by 2**level (pages halve with floor,
    so page pixel i covers full-size pixels [i*2**level, (i+1)*2**level)).
    """
    if resolved.rotation != 0 or resolved.mirror:
        return None
    if resolved.quality not in _PASSTHROUGH_QUALITIES or resolved.format is not Format.JPG:
        return None
    region = resolved.region
    for index, level in enumerate(levels):
        if not capable[index]:
            continue
        scale = 1 << index
        if level.width != levels[0].width >> index or level.height != levels[0].height >> index:
            continue
        tw, th = level.tile_width, level.tile_height
        if (resolved.width, resolved.height) != (tw, th):
            continue
        if (region.width, region.height) != (tw * scale, th * scale):
            continue
        if region.x % (tw * scale) or region.y % (th * scale):
            continue
        column, row = region.x // (tw * scale), region.y // (th * scale)
        if (column + 1) * tw <= level.width and (row + 1) * th <= level.height:
            return TileRef(index, column, row)
    return None


def plan_render(resolved: ResolvedRequest, levels: list[LevelSize]) -> Plan:
    """Pick the smallest page still at least as detailed as the output, and the crop on it."""
    region = resolved.region
    full = levels[0]
    # how much the output shrinks the region (>= 1 means downscaling)
    shrink = min(Fraction(region.width, resolved.width), Fraction(region.height, resolved.height))
    chosen = 0
    for index, level in enumerate(levels):
        if index == 0:
            continue
        factor = max(Fraction(full.width, level.width), Fraction(full.height, level.height))
        if factor <= shrink:
            chosen = index
    level = levels[chosen]
    fx = Fraction(level.width, full.width)
    fy = Fraction(level.height, full.height)
    x0 = int(region.x * fx)
    y0 = int(region.y * fy)
    x1 = min(level.width, -int(-(region.x + region.width) * fx // 1))
    y1 = min(level.height, -int(-(region.y + region.height) * fy // 1))
    return Plan(chosen, x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def confined_needs_upscale(request: ImageRequest, resolved: ResolvedRequest) -> bool:
    """A 3.0 ``!w,h`` (without ``^``) whose box is larger than the region on every side.

    Filling such a box would mean upscaling. The spec's text allows answering with the
    region's own size; the official validator (size_noup), Cantaloupe and IIPImage answer
    400. Which one this server does is the ``confined_upscale`` setting.
    """
    size = request.size
    if request.version < 3 or size.kind is not SizeKind.CONFINED or size.upscale:
        return False
    assert size.width is not None and size.height is not None
    region = resolved.region
    return size.width > region.width and size.height > region.height


def rotated_canvas_over_limits(resolved: ResolvedRequest) -> tuple[int, int] | None:
    """The canvas of an arbitrary rotation, if it is over ``maxWidth``/``maxHeight``/``maxArea``.

    ``resolve`` checks the size before rotation, as the spec's limits read; a turn that is not
    a multiple of 90 degrees returns the bounding box, up to twice as many pixels (and WebP
    with transparent corners needs ~25 bytes per canvas pixel to encode). The limits are the
    most the server promises to return, so the canvas must be within them too.
    """
    if resolved.rotation % 90 == 0:
        return None
    limits = resolved.limits
    width, height = resolved.rotated_size
    if (
        width > limits.effective_max_width
        or height > limits.effective_max_height
        or (limits.max_area is not None and width * height > limits.max_area)
    ):
        return width, height
    return None
