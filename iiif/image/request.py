"""Parse IIIF Image API request paths into frozen values (Image API 3.0 section 4; 2.1 too).

Parsing checks syntax only; anything that depends on the image (a region outside it,
upscaling, server limits) is decided by :func:`iiif.image.resolve.resolve`.
Versions are the ints 2 (Image API 2.1) and 3 (Image API 3.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum

from iiif.image._numbers import parse_decimal, parse_int
from iiif.image.errors import BadRequest, NotFound, echo
from iiif.image.identifier import decode_identifier, percent_decode

__all__ = [
    "MAX_PATH_LENGTH",
    "MAX_REGION_PIXELS",
    "MAX_SIZE_PERCENT",
    "MAX_SIZE_PIXELS",
    "SUPPORTED_VERSIONS",
    "BaseUriRequest",
    "Format",
    "ImageRequest",
    "InfoRequest",
    "Quality",
    "Region",
    "RegionKind",
    "Rotation",
    "Size",
    "SizeKind",
    "check_version",
    "parse_format",
    "parse_path",
    "parse_quality",
    "parse_region",
    "parse_rotation",
    "parse_size",
]

SUPPORTED_VERSIONS = (2, 3)
#: Largest pixel coordinate or extent accepted in a region (beyond any image we store).
MAX_REGION_PIXELS = 10_000_000
#: Largest width or height accepted in a size (the largest JPEG dimension).
MAX_SIZE_PIXELS = 65_535
#: Largest percentage accepted in an upscaling ``^pct:n`` size (100 times the region).
MAX_SIZE_PERCENT = Decimal(10_000)
#: Longest request path accepted (after the service prefix).
MAX_PATH_LENGTH = 2048

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_FULL_TURN = Decimal(360)


def check_version(version: int) -> int:
    """Return ``version`` if it is a supported Image API major version (2 or 3)."""
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or version not in SUPPORTED_VERSIONS
    ):
        raise ValueError(f"unsupported IIIF Image API version {version!r}; use 2 or 3")
    return version


class RegionKind(Enum):
    FULL = "full"
    SQUARE = "square"
    PIXELS = "pixels"
    PERCENT = "percent"


@dataclass(frozen=True)
class Region:
    """A parsed region; ``x, y, w, h`` are pixels (integral) or percentages."""

    kind: RegionKind
    x: Decimal = _ZERO
    y: Decimal = _ZERO
    w: Decimal = _ZERO
    h: Decimal = _ZERO


class SizeKind(Enum):
    MAX = "max"  # max, ^max: the largest size the server allows
    FULL = "full"  # 2.1 only: the region unscaled (not max, which may be smaller)
    WIDTH = "w,"
    HEIGHT = ",h"
    PERCENT = "pct:n"
    EXACT = "w,h"
    CONFINED = "!w,h"


@dataclass(frozen=True)
class Size:
    """A parsed size.

    ``upscale`` says the result may be larger than the region: the ``^`` prefix in 3.0,
    implicit for every form but ``max``/``full`` in 2.1 (which allows scaling above full).
    """

    kind: SizeKind
    upscale: bool = False
    width: int | None = None
    height: int | None = None
    percent: Decimal | None = None


@dataclass(frozen=True)
class Rotation:
    """Clockwise ``degrees`` in [0, 360], after mirroring on the vertical axis if ``mirror``."""

    degrees: Decimal = _ZERO
    mirror: bool = False


class Quality(StrEnum):
    DEFAULT = "default"
    COLOR = "color"
    GRAY = "gray"
    BITONAL = "bitonal"


class Format(StrEnum):
    """Output formats this server writes (all of them libvips can save)."""

    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"
    TIF = "tif"
    GIF = "gif"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    Format.JPG: "image/jpeg",
    Format.PNG: "image/png",
    Format.WEBP: "image/webp",
    Format.TIF: "image/tiff",
    Format.GIF: "image/gif",
}
#: Formats the spec defines that this server cannot write.
_UNSUPPORTED_FORMATS = frozenset({"jp2", "pdf"})


@dataclass(frozen=True)
class ImageRequest:
    """``{identifier}/{region}/{size}/{rotation}/{quality}.{format}``, parsed."""

    identifier: str
    region: Region
    size: Size
    rotation: Rotation
    quality: Quality
    format: Format
    version: int = 3


@dataclass(frozen=True)
class InfoRequest:
    """``{identifier}/info.json``."""

    identifier: str
    version: int = 3


@dataclass(frozen=True)
class BaseUriRequest:
    """``{identifier}`` alone: the base URI, which should redirect (303) to info.json."""

    identifier: str
    version: int = 3


def parse_region(text: str) -> Region:
    """Parse ``full``, ``square``, ``x,y,w,h`` or ``pct:x,y,w,h`` (section 4.1)."""
    if text == "full":
        return Region(RegionKind.FULL)
    if text == "square":
        return Region(RegionKind.SQUARE)
    percent = text.startswith("pct:")
    body = text[4:] if percent else text
    parts = body.split(",")
    if len(parts) != 4:
        raise BadRequest(
            "region", f"expected full, square, x,y,w,h or pct:x,y,w,h, got {echo(text)}"
        )
    names = ("x", "y", "w", "h")
    if percent:
        values = [
            parse_decimal(part, "region", f"region {name}", _HUNDRED)
            for name, part in zip(names, parts, strict=True)
        ]
    else:
        values = [
            Decimal(parse_int(part, "region", f"region {name}", MAX_REGION_PIXELS))
            for name, part in zip(names, parts, strict=True)
        ]
    if values[2] == 0 or values[3] == 0:
        raise BadRequest("region", "the region's width and height must be greater than zero")
    kind = RegionKind.PERCENT if percent else RegionKind.PIXELS
    return Region(kind, *values)


def parse_size(text: str, version: int = 3) -> Size:
    """Parse a size (3.0 section 4.2, with the ``^`` forms; 2.1 without them, with ``full``)."""
    version = check_version(version)
    body = text
    prefixed = body.startswith("^")
    if prefixed:
        if version < 3:
            raise BadRequest("size", "the '^' upscaling prefix is not part of Image API 2.1")
        body = body[1:]
    if body == "max":
        return Size(SizeKind.MAX, upscale=prefixed)
    if body == "full":
        if version >= 3:
            raise BadRequest("size", "'full' was replaced by 'max' in Image API 3.0")
        return Size(SizeKind.FULL)
    upscale = prefixed or version < 3
    if body.startswith("pct:"):
        percent = parse_decimal(body[4:], "size", "size percentage", MAX_SIZE_PERCENT)
        if percent == 0:
            raise BadRequest("size", "pct:0 would give an empty image")
        if percent > _HUNDRED and not upscale:
            raise BadRequest("size", "pct:n above 100 needs the '^' prefix to upscale")
        return Size(SizeKind.PERCENT, upscale=upscale, percent=percent)
    confined = body.startswith("!")
    if confined:
        body = body[1:]
    w_text, comma, h_text = body.partition(",")
    if not comma:
        raise BadRequest("size", f"expected max, w,, ,h, pct:n, w,h or !w,h, got {echo(text)}")
    width = _size_value(w_text, "width") if w_text else None
    height = _size_value(h_text, "height") if h_text else None
    if confined or (width is not None and height is not None):
        if width is None or height is None:
            raise BadRequest("size", "!w,h needs both a width and a height")
        kind = SizeKind.CONFINED if confined else SizeKind.EXACT
        return Size(kind, upscale=upscale, width=width, height=height)
    if width is not None:
        return Size(SizeKind.WIDTH, upscale=upscale, width=width)
    if height is not None:
        return Size(SizeKind.HEIGHT, upscale=upscale, height=height)
    raise BadRequest("size", "a size needs a width, a height or both")


def _size_value(text: str, what: str) -> int:
    value = parse_int(text, "size", f"size {what}", MAX_SIZE_PIXELS)
    if value == 0:
        raise BadRequest("size", f"size {what} must be greater than zero")
    return value


def parse_rotation(text: str) -> Rotation:
    """Parse ``n`` or ``!n`` with 0 <= n <= 360 (section 4.3)."""
    mirror = text.startswith("!")
    body = text[1:] if mirror else text
    degrees = parse_decimal(body, "rotation", "rotation", _FULL_TURN)
    return Rotation(degrees=degrees, mirror=mirror)


def parse_quality(text: str, version: int = 3) -> Quality:
    """Parse ``default``, ``color``, ``gray`` or ``bitonal`` (and ``native`` in 2.1)."""
    version = check_version(version)
    if text == "native" and version < 3:
        return Quality.DEFAULT
    try:
        return Quality(text)
    except ValueError:
        allowed = ", ".join(quality.value for quality in Quality)
        raise BadRequest("quality", f"unknown quality {echo(text)}; use one of {allowed}") from None


def parse_format(text: str) -> Format:
    """Parse the format extension (section 4.5); only formats this server writes pass."""
    try:
        return Format(text)
    except ValueError:
        pass
    supported = ", ".join(fmt.value for fmt in Format)
    if text in _UNSUPPORTED_FORMATS:
        reason = f"format {text!r} is not supported here; use one of {supported}"
    else:
        reason = f"unknown format {echo(text)}; use one of {supported}"
    raise BadRequest("format", reason)


def parse_path(path: str, version: int = 3) -> ImageRequest | InfoRequest | BaseUriRequest:
    """Split and parse a request path relative to the service prefix.

    ``{identifier}/{region}/{size}/{rotation}/{quality}.{format}`` gives an
    :class:`ImageRequest`, ``{identifier}/info.json`` an :class:`InfoRequest` and a bare
    ``{identifier}`` a :class:`BaseUriRequest`. Every segment is percent-decoded once; an
    unencoded ``/`` in an identifier shows as extra segments and gives 404.
    """
    version = check_version(version)
    if len(path) > MAX_PATH_LENGTH:
        raise BadRequest("path", f"request paths are at most {MAX_PATH_LENGTH} characters long")
    if "?" in path or "#" in path:
        raise BadRequest("path", "'?' and '#' must be percent-encoded in a request path")
    segments = path.removeprefix("/").split("/")
    count = len(segments)
    if count == 1:
        return BaseUriRequest(decode_identifier(segments[0]), version)
    if count == 2 and segments[1].startswith("info"):
        identifier = decode_identifier(segments[0])
        if percent_decode(segments[1], "format") != "info.json":
            raise BadRequest("format", "image information is only available as info.json")
        return InfoRequest(identifier, version)
    if count > 5 or (count > 2 and segments[-1] == "info.json"):
        raise NotFound("identifier", "no image has an identifier containing a slash")
    if count != 5:
        raise BadRequest(
            "path", "expected {identifier}/{region}/{size}/{rotation}/{quality}.{format}"
        )
    identifier = decode_identifier(segments[0])
    region = parse_region(percent_decode(segments[1], "region"))
    size = parse_size(percent_decode(segments[2], "size"), version)
    rotation = parse_rotation(percent_decode(segments[3], "rotation"))
    quality_text, dot, format_text = percent_decode(segments[4], "quality").rpartition(".")
    if not dot:
        raise BadRequest("format", "the format extension (e.g. .jpg) is missing")
    quality = parse_quality(quality_text, version)
    fmt = parse_format(format_text)
    return ImageRequest(identifier, region, size, rotation, quality, fmt, version)
