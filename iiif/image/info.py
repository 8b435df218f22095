"""Image information documents, ``info.json`` (Image API 3.0 section 5; 2.1 section 5).

Plain dicts ready for ``json.dumps``; also the pyramid helpers that compute ``sizes``
and tile ``scaleFactors`` from the image's dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from iiif.image.identifier import quote_identifier
from iiif.image.request import Format, Quality, check_version
from iiif.image.resolve import Limits

__all__ = [
    "CONTEXT_V2",
    "CONTEXT_V3",
    "FEATURES_V3",
    "INFO_MEDIA_TYPE_V3",
    "LEVEL2_FEATURES_V3",
    "PROTOCOL",
    "info_json",
    "profile_uri",
    "pyramid_sizes",
    "scale_factors_for",
]

CONTEXT_V3 = "http://iiif.io/api/image/3/context.json"
CONTEXT_V2 = "http://iiif.io/api/image/2/context.json"
PROTOCOL = "http://iiif.io/api/image"
#: Content-Type of a 3.0 info.json response (section 5.1).
INFO_MEDIA_TYPE_V3 = f'application/ld+json;profile="{CONTEXT_V3}"'

#: Feature names defined by Image API 3.0 section 5.7.
FEATURES_V3 = frozenset(
    {
        "baseUriRedirect",
        "canonicalLinkHeader",
        "cors",
        "jsonldMediaType",
        "mirroring",
        "profileLinkHeader",
        "regionByPct",
        "regionByPx",
        "regionSquare",
        "rotationArbitrary",
        "rotationBy90s",
        "sizeByConfinedWh",
        "sizeByH",
        "sizeByPct",
        "sizeByW",
        "sizeByWh",
        "sizeUpscaling",
    }
)
#: Features implied by the 3.0 ``level2`` profile (compliance 3.0).
LEVEL2_FEATURES_V3 = frozenset(
    {
        "baseUriRedirect",
        "cors",
        "jsonldMediaType",
        "regionByPct",
        "regionByPx",
        "regionSquare",
        "rotationBy90s",
        "sizeByConfinedWh",
        "sizeByH",
        "sizeByPct",
        "sizeByW",
        "sizeByWh",
    }
)
#: Features implied by 2.1's level2.json (2.1 names).
_LEVEL2_FEATURES_V2 = frozenset(
    {
        "baseUriRedirect",
        "cors",
        "jsonldMediaType",
        "regionByPct",
        "regionByPx",
        "rotationBy90s",
        "sizeByConfinedWh",
        "sizeByDistortedWh",
        "sizeByH",
        "sizeByPct",
        "sizeByW",
        "sizeByWh",
    }
)
#: 3.0 feature names whose 2.1 name differs.
_FEATURE_NAMES_V2 = {"sizeUpscaling": "sizeAboveFull"}
_LEVEL2_FORMATS = frozenset({"jpg", "png"})
_LEVEL2_QUALITIES_V2 = frozenset({"default", "bitonal"})


def profile_uri(version: int = 3) -> str:
    """The level 2 profile document URI, for ``Link: <...>;rel="profile"``."""
    return f"http://iiif.io/api/image/{check_version(version)}/level2.json"


def scale_factors_for(
    width: int, height: int, tile_width: int, tile_height: int | None = None
) -> list[int]:
    """Powers of two from 1 up to the first at which the whole image fits one tile."""
    _check_positive(width=width, height=height, tile_width=tile_width)
    tile_height = tile_width if tile_height is None else tile_height
    _check_positive(tile_height=tile_height)
    factors = [1]
    while math.ceil(width / factors[-1]) > tile_width or math.ceil(height / factors[-1]) > (
        tile_height
    ):
        factors.append(factors[-1] * 2)
    return factors


def pyramid_sizes(width: int, height: int, levels: int) -> list[tuple[int, int]]:
    """Full-image sizes at scale factors 1, 2, 4 ... 2**(levels-1), smallest first.

    Each is ``(ceil(width / s), ceil(height / s))``, as tile requests compute them.
    """
    _check_positive(width=width, height=height, levels=levels)
    sizes = {(math.ceil(width / 2**level), math.ceil(height / 2**level)) for level in range(levels)}
    return sorted(sizes)


def info_json(
    base_uri: str,
    identifier: str,
    width: int,
    height: int,
    tile_width: int,
    tile_height: int,
    scale_factors: Sequence[int],
    sizes: Sequence[tuple[int, int]],
    limits: Limits,
    extra_formats: Sequence[str] = (),
    extra_qualities: Sequence[str] = (),
    extra_features: Sequence[str] = (),
    service: Sequence[Mapping[str, Any]] | None = None,
    version: int = 3,
) -> dict[str, Any]:
    """The level 2 image information document for Image API ``version`` 3 or 2.

    ``base_uri`` is the service prefix; the identifier is percent-encoded onto it. Sizes
    beyond the image or ``limits`` are left out, as the spec requires every listed size
    to be served; formats, qualities and features the level 2 profile already implies
    are left out of the extras. Unknown formats, qualities or features raise ValueError.
    """
    version = check_version(version)
    _check_positive(width=width, height=height, tile_width=tile_width, tile_height=tile_height)
    if not scale_factors or any(factor < 1 for factor in scale_factors):
        raise ValueError("scale_factors must be positive integers")
    if len(set(scale_factors)) != len(scale_factors):
        raise ValueError("a scale factor may appear only once")
    if tile_width > limits.effective_max_width or tile_height > limits.effective_max_height:
        raise ValueError("tiles must be within maxWidth/maxHeight")
    if limits.max_area is not None and tile_width * tile_height > limits.max_area:
        raise ValueError("tiles must be within maxArea")
    formats = _checked(extra_formats, {fmt.value for fmt in Format}, "format")
    qualities = _checked(extra_qualities, {quality.value for quality in Quality}, "quality")
    features = _checked_features(extra_features)
    if "sizeUpscaling" in features and limits.max_width is None and limits.max_area is None:
        raise ValueError("sizeUpscaling requires maxWidth or maxArea (Image API 5.7)")
    if "sizeUpscaling" in features and not limits.allow_upscaling:
        raise ValueError("sizeUpscaling is advertised but limits.allow_upscaling is off")

    service_id = f"{base_uri.rstrip('/')}/{quote_identifier(identifier)}"
    size_list = [{"width": w, "height": h} for w, h in _allowed_sizes(sizes, width, height, limits)]
    tiles = [{"width": tile_width, "height": tile_height, "scaleFactors": list(scale_factors)}]
    size_limits = _limit_properties(limits)
    services = [dict(entry) for entry in service] if service else []

    if version >= 3:
        doc: dict[str, Any] = {
            "@context": CONTEXT_V3,
            "id": service_id,
            "type": "ImageService3",
            "protocol": PROTOCOL,
            "profile": "level2",
            "width": width,
            "height": height,
            **size_limits,
        }
        _put_list(doc, "sizes", size_list)
        doc["tiles"] = tiles
        _put_list(doc, "extraFormats", [f for f in formats if f not in _LEVEL2_FORMATS])
        _put_list(doc, "extraQualities", [q for q in qualities if q != "default"])
        _put_list(doc, "extraFeatures", [f for f in features if f not in LEVEL2_FEATURES_V3])
        _put_list(doc, "service", services)
        return doc

    supports = [_FEATURE_NAMES_V2.get(feature, feature) for feature in features]
    if "regionSquare" not in supports:
        supports.append("regionSquare")  # level 2 in 3.0, optional (so explicit) in 2.1
    profile: dict[str, Any] = {}
    _put_list(profile, "formats", [f for f in formats if f not in _LEVEL2_FORMATS])
    _put_list(profile, "qualities", [q for q in qualities if q not in _LEVEL2_QUALITIES_V2])
    _put_list(profile, "supports", [f for f in supports if f not in _LEVEL2_FEATURES_V2])
    profile.update(size_limits)
    doc = {
        "@context": CONTEXT_V2,
        "@id": service_id,
        "protocol": PROTOCOL,
        "width": width,
        "height": height,
    }
    _put_list(doc, "sizes", size_list)
    doc["tiles"] = tiles
    doc["profile"] = [profile_uri(2), profile] if profile else [profile_uri(2)]
    _put_list(doc, "service", services)
    return doc


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _checked(values: Sequence[str], known: set[str], what: str) -> list[str]:
    result: list[str] = []
    for value in values:
        if value not in known:
            raise ValueError(f"unknown {what} {value!r}; known: {sorted(known)}")
        if value not in result:
            result.append(value)
    return result


def _checked_features(values: Sequence[str]) -> list[str]:
    result: list[str] = []
    for value in values:
        # Extensions are named by URI; anything else must be a 3.0 feature name.
        if value not in FEATURES_V3 and "://" not in value:
            raise ValueError(f"unknown feature {value!r}")
        if value not in result:
            result.append(value)
    return result


def _allowed_sizes(
    sizes: Sequence[tuple[int, int]], width: int, height: int, limits: Limits
) -> list[tuple[int, int]]:
    allowed = {
        (w, h)
        for w, h in sizes
        if 1 <= w <= min(width, limits.effective_max_width)
        and 1 <= h <= min(height, limits.effective_max_height)
        and (limits.max_area is None or w * h <= limits.max_area)
    }
    return sorted(allowed)


def _limit_properties(limits: Limits) -> dict[str, int]:
    properties: dict[str, int] = {}
    if limits.max_width is not None:
        properties["maxWidth"] = limits.max_width
    if limits.max_height is not None:
        properties["maxHeight"] = limits.max_height
    if limits.max_area is not None:
        properties["maxArea"] = limits.max_area
    return properties


def _put_list(doc: dict[str, Any], key: str, values: list[Any]) -> None:
    if values:
        doc[key] = values
