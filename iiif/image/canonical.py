"""Canonical URI syntax (Image API 3.0 section 4.8; 2.1 section 4.7).

Used for ``Link: <...>;rel="canonical"`` and for cache keys: equivalent requests
resolve to the same canonical path.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from iiif.image._numbers import format_number, round_half_up
from iiif.image.identifier import quote_identifier
from iiif.image.request import check_version
from iiif.image.resolve import ResolvedRequest, max_size_turned

__all__ = ["CanonicalPath", "canonical", "canonical_link_header", "canonical_uri"]


@dataclass(frozen=True)
class CanonicalPath:
    """The five canonical parameter values; ``str()`` joins them as a URI path."""

    region: str
    size: str
    rotation: str
    quality: str
    format: str

    def __str__(self) -> str:
        return f"{self.region}/{self.size}/{self.rotation}/{self.quality}.{self.format}"


def canonical(resolved: ResolvedRequest, version: int = 3) -> CanonicalPath:
    """Canonical parameter values for a resolved request, for Image API ``version`` 3 or 2.

    region: ``full`` for the whole image (a ``square`` of a square image too), else
    ``x,y,w,h`` in clipped pixels. size, 3.0: ``max`` if the size is the maximum without
    upscaling, ``^max`` if the maximum upscaled size, else ``w,h`` or ``^w,h``. size, 2.1:
    ``full`` if unscaled, ``w,`` if the aspect ratio is kept (as ``w,`` would compute it),
    else ``w,h``. rotation: ``!`` if mirrored, then an integer if possible. quality: the
    quality requested (``default`` for 2.1's ``native``). format: always explicit.
    """
    version = check_version(version)
    region = resolved.region
    if resolved.region_is_full:
        region_text = "full"
    else:
        region_text = f"{region.x},{region.y},{region.width},{region.height}"
    if version >= 3:
        size_text = _size_v3(resolved)
    else:
        size_text = _size_v2(resolved)
    rotation_text = ("!" if resolved.mirror else "") + format_number(resolved.rotation)
    return CanonicalPath(
        region=region_text,
        size=size_text,
        rotation=rotation_text,
        quality=resolved.quality.value,
        format=resolved.format.value,
    )


def _size_v3(resolved: ResolvedRequest) -> str:
    size = (resolved.width, resolved.height)
    region, limits, degrees = resolved.region, resolved.limits, resolved.rotation
    if size == max_size_turned(region, limits, degrees, upscale=False):
        return "max"
    if resolved.upscaled:
        if size == max_size_turned(region, limits, degrees, upscale=True):
            return "^max"
        return f"^{resolved.width},{resolved.height}"
    return f"{resolved.width},{resolved.height}"


def _size_v2(resolved: ResolvedRequest) -> str:
    rw, rh = resolved.region.width, resolved.region.height
    if (resolved.width, resolved.height) == (rw, rh):
        return "full"
    height_from_width = round_half_up(Fraction(rh * resolved.width, rw))
    if height_from_width == resolved.height:
        return f"{resolved.width},"
    return f"{resolved.width},{resolved.height}"


def canonical_uri(base_uri: str, resolved: ResolvedRequest, version: int = 3) -> str:
    """Full canonical URI: ``{base_uri}/{encoded identifier}/{canonical path}``.

    ``base_uri`` is the service prefix, e.g. ``https://example.org/iiif/image/3``.
    """
    identifier = quote_identifier(resolved.identifier)
    return f"{base_uri.rstrip('/')}/{identifier}/{canonical(resolved, version)}"


def canonical_link_header(base_uri: str, resolved: ResolvedRequest, version: int = 3) -> str:
    """The value of the ``Link`` header naming the canonical URI (section 4.8)."""
    return f'<{canonical_uri(base_uri, resolved, version)}>;rel="canonical"'
