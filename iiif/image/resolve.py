"""Turn a parsed image request into concrete pixel operations (Image API 3.0 sections 4.1-4.3).

:func:`resolve` needs only the image's width and height, so an image server can refuse
bad or oversized requests before it decodes a single pixel. Rounding (which the spec
leaves to implementations) is round-half-up on exact fractions throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from iiif.image._numbers import round_half_up as _round
from iiif.image.errors import BadRequest, NotImplemented_, TooLarge
from iiif.image.request import (
    MAX_SIZE_PIXELS,
    Format,
    ImageRequest,
    Quality,
    Region,
    RegionKind,
    Size,
    SizeKind,
)

__all__ = [
    "Limits",
    "PixelRegion",
    "ResolvedRequest",
    "max_size",
    "max_size_turned",
    "resolve",
    "rotated_box",
    "within_limits",
]


@dataclass(frozen=True)
class Limits:
    """Server-imposed size limits (``maxWidth``, ``maxHeight``, ``maxArea``) and upscaling.

    As the spec says, ``max_height`` defaults to ``max_width`` and may only be given with
    it. Whatever the limits, no output side may exceed 65,535 pixels.
    """

    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None
    allow_upscaling: bool = True

    def __post_init__(self) -> None:
        for name in ("max_width", "max_height", "max_area"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.max_height is not None and self.max_width is None:
            raise ValueError("max_width must be given when max_height is (Image API 5.2)")

    @property
    def effective_max_width(self) -> int:
        """The width limit in force, including the hard ceiling."""
        if self.max_width is None:
            return MAX_SIZE_PIXELS
        return min(self.max_width, MAX_SIZE_PIXELS)

    @property
    def effective_max_height(self) -> int:
        """The height limit in force: ``max_height``, else ``max_width``, else the ceiling."""
        height = self.max_height if self.max_height is not None else self.max_width
        if height is None:
            return MAX_SIZE_PIXELS
        return min(height, MAX_SIZE_PIXELS)


@dataclass(frozen=True)
class PixelRegion:
    """A region of the full image in pixels, already clipped to the image."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class ResolvedRequest:
    """Everything an image server needs to produce the image, in the spec's order.

    Extract ``region``, scale it to ``width`` x ``height``, mirror if ``mirror``, rotate
    clockwise by ``rotation`` degrees (in [0, 360)), apply ``quality``, encode ``format``.
    """

    identifier: str
    image_width: int
    image_height: int
    region: PixelRegion
    width: int
    height: int
    mirror: bool
    rotation: float
    quality: Quality
    format: Format
    upscaled: bool
    limits: Limits
    version: int = 3

    @property
    def region_is_full(self) -> bool:
        region = self.region
        return (region.x, region.y, region.width, region.height) == (
            0,
            0,
            self.image_width,
            self.image_height,
        )

    @property
    def rotated_size(self) -> tuple[int, int]:
        """Width and height of the returned image once rotated (bounding box, no scaling)."""
        return rotated_box(self.width, self.height, self.rotation)


def rotated_box(width: int, height: int, degrees: float) -> tuple[int, int]:
    """The bounding box of a ``width`` x ``height`` image turned by ``degrees`` clockwise."""
    turn = degrees % 180
    if turn == 0:
        return width, height
    if turn == 90:
        return height, width
    radians = math.radians(degrees)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    return (
        math.floor(width * cos + height * sin + 0.5),
        math.floor(height * cos + width * sin + 0.5),
    )


def within_limits(width: int, height: int, limits: Limits) -> bool:
    """Whether an image of this size is within ``maxWidth``, ``maxHeight`` and ``maxArea``."""
    return (
        width <= limits.effective_max_width
        and height <= limits.effective_max_height
        and (limits.max_area is None or width * height <= limits.max_area)
    )


def resolve(
    request: ImageRequest, image_width: int, image_height: int, limits: Limits
) -> ResolvedRequest:
    """Apply the request to an image of the given size, refusing what the spec forbids.

    Raises :class:`BadRequest` (region outside the image, upscaling without ``^``, a
    result under one pixel), :class:`TooLarge` (over the limits) or
    :class:`NotImplemented_` (``^`` upscaling when ``limits.allow_upscaling`` is off).
    """
    for name, value in (("image_width", image_width), ("image_height", image_height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    region = _resolve_region(request.region, image_width, image_height)
    width, height = _resolve_size(request.size, region, limits, request.version)
    degrees = float(request.rotation.degrees % 360)
    if request.size.kind is SizeKind.MAX and degrees % 90 != 0:
        width, height = _max_for_rotation(width, height, region, degrees, limits)
    upscaled = width > region.width or height > region.height
    return ResolvedRequest(
        identifier=request.identifier,
        image_width=image_width,
        image_height=image_height,
        region=region,
        width=width,
        height=height,
        mirror=request.rotation.mirror,
        rotation=degrees,
        quality=request.quality,
        format=request.format,
        upscaled=upscaled,
        limits=limits,
        version=request.version,
    )


def _resolve_region(region: Region, image_width: int, image_height: int) -> PixelRegion:
    if region.kind is RegionKind.FULL:
        return PixelRegion(0, 0, image_width, image_height)
    if region.kind is RegionKind.SQUARE:
        side = min(image_width, image_height)
        return PixelRegion((image_width - side) // 2, (image_height - side) // 2, side, side)
    if region.kind is RegionKind.PERCENT:
        x = _round(Fraction(region.x) * image_width / 100)
        y = _round(Fraction(region.y) * image_height / 100)
        # A non-zero percentage never rounds away to an empty region.
        w = max(1, _round(Fraction(region.w) * image_width / 100))
        h = max(1, _round(Fraction(region.h) * image_height / 100))
    else:
        x, y, w, h = int(region.x), int(region.y), int(region.w), int(region.h)
    if x >= image_width or y >= image_height:
        raise BadRequest(
            "region",
            f"the region starts at {x},{y}, outside the {image_width}x{image_height} image",
        )
    return PixelRegion(x, y, min(w, image_width - x), min(h, image_height - y))


def max_size(
    region_width: int, region_height: int, limits: Limits, upscale: bool = False
) -> tuple[int, int]:
    """The ``max`` (or, with ``upscale``, ``^max``) size of a region under ``limits``.

    Without ``max_width`` or ``max_area`` there is nothing to scale up to (the spec asks
    servers that upscale to declare one), so ``^max`` is then the region's own size.
    """
    upscale = upscale and (limits.max_width is not None or limits.max_area is not None)
    return _fit(
        region_width,
        region_height,
        limits.effective_max_width,
        limits.effective_max_height,
        limits.max_area,
        upscale,
    )


def max_size_turned(
    region: PixelRegion, limits: Limits, degrees: float, upscale: bool = False
) -> tuple[int, int]:
    """The ``max`` (``^max``) size of a region turned by ``degrees``: its bounding box is
    within the limits too when the turn is not a right angle."""
    width, height = max_size(region.width, region.height, limits, upscale)
    if degrees % 90 == 0:
        return width, height
    return _max_for_rotation(width, height, region, degrees, limits)


def _fit(
    width: int, height: int, box_width: int, box_height: int, max_area: int | None, upscale: bool
) -> tuple[int, int]:
    """Largest aspect-preserving size within the box and area (and the region unless upscale)."""
    scale = min(Fraction(box_width, width), Fraction(box_height, height))
    if not upscale:
        scale = min(scale, Fraction(1))
    # Rounding half up cannot pass an integer bound that the exact value respects.
    w = max(1, _round(width * scale))
    h = max(1, _round(height * scale))
    if max_area is not None and w * h > max_area:
        area_scale = math.sqrt(max_area / (width * height))
        w = max(1, min(w, math.floor(width * area_scale)))
        h = max(1, min(h, math.floor(height * area_scale)))
        while w * h > max_area:  # float error or a one-pixel floor; shrink the longer side
            if w >= h and w > 1:
                w -= 1
            elif h > 1:
                h -= 1
            else:
                break
    return w, h


def _max_for_rotation(
    width: int, height: int, region: PixelRegion, degrees: float, limits: Limits
) -> tuple[int, int]:
    """``max`` turned by a non-right angle: the largest size whose bounding box is within the
    limits too, since ``max`` is the most the server returns (a bisection on the width, the
    height following the region's aspect ratio as ``w,`` would compute it)."""
    if within_limits(*rotated_box(width, height, degrees), limits):
        return width, height
    low, high = 1, width  # low always fits (a 1-pixel-wide image's box is tiny), high does not
    while high - low > 1:
        middle = (low + high) // 2
        fits = within_limits(*rotated_box(*_with_width(middle, region), degrees), limits)
        low, high = (middle, high) if fits else (low, middle)
    return _with_width(low, region)


def _with_width(width: int, region: PixelRegion) -> tuple[int, int]:
    return width, max(1, _round(Fraction(region.height * width, region.width)))


def _resolve_size(size: Size, region: PixelRegion, limits: Limits, version: int) -> tuple[int, int]:
    rw, rh = region.width, region.height
    if size.kind is SizeKind.FULL:
        w, h = rw, rh  # 2.1: the region unscaled, whatever the limits say
        if not within_limits(w, h, limits):
            raise TooLarge(
                "size",
                f"'full' is the region's full size, {w}x{h}, over this server's maxWidth, "
                "maxHeight or maxArea; ask for 'max' (the largest size allowed) or a smaller size",
            )
        return w, h
    if size.kind is SizeKind.MAX:
        w, h = max_size(rw, rh, limits, upscale=size.upscale)
        if (w > rw or h > rh) and not limits.allow_upscaling:
            raise NotImplemented_("size", "this server does not upscale images (^max)")
    elif size.kind is SizeKind.CONFINED:
        assert size.width is not None and size.height is not None
        box_w = min(size.width, limits.effective_max_width)
        box_h = min(size.height, limits.effective_max_height)
        w, h = _fit(rw, rh, box_w, box_h, limits.max_area, size.upscale)
        if (w > rw or h > rh) and not limits.allow_upscaling:
            if version >= 3:
                raise NotImplemented_("size", "this server does not upscale images (^!w,h)")
            # 2.1's !w,h is a best fit: without upscaling, the best is the region itself.
            w, h = _fit(rw, rh, box_w, box_h, limits.max_area, upscale=False)
    else:
        w, h = _explicit_size(size, rw, rh)
        if w < 1 or h < 1:
            raise BadRequest(
                "size", f"the scaled image would be {w}x{h}; both sides must be at least 1 pixel"
            )
        if w > rw or h > rh:
            if not size.upscale:
                raise BadRequest(
                    "size",
                    f"{w}x{h} is larger than the {rw}x{rh} region; prefix the size with ^ "
                    "to upscale",
                )
            if not limits.allow_upscaling:
                raise NotImplemented_("size", "this server does not upscale images")
    _check_limits(w, h, limits)
    return w, h


def _explicit_size(size: Size, rw: int, rh: int) -> tuple[int, int]:
    if size.kind is SizeKind.WIDTH:
        assert size.width is not None
        return size.width, _round(Fraction(rh * size.width, rw))
    if size.kind is SizeKind.HEIGHT:
        assert size.height is not None
        return _round(Fraction(rw * size.height, rh)), size.height
    if size.kind is SizeKind.PERCENT:
        assert size.percent is not None
        ratio = Fraction(size.percent) / 100
        return _round(rw * ratio), _round(rh * ratio)
    assert size.width is not None and size.height is not None
    return size.width, size.height


def _check_limits(width: int, height: int, limits: Limits) -> None:
    if width > limits.effective_max_width:
        raise TooLarge(
            "size", f"width {width} is over the limit of {limits.effective_max_width} pixels"
        )
    if height > limits.effective_max_height:
        raise TooLarge(
            "size", f"height {height} is over the limit of {limits.effective_max_height} pixels"
        )
    if limits.max_area is not None and width * height > limits.max_area:
        raise TooLarge(
            "size",
            f"{width}x{height} = {width * height} pixels is over the limit of "
            f"{limits.max_area} pixels",
        )
