"""What a manifest or collection says, as plain frozen data (no iiif-prezi3 types).

Texts are language maps ``{"vi": "...", "en": "..."}``; the builders turn them into IIIF
language maps (``{"vi": ["..."]}``). Sizes and durations are those recorded at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LangMap = dict[str, str]
KINDS = ("Image", "Sound", "Video", "Model", "Text", "Dataset")


@dataclass(frozen=True)
class BodySpec:
    """The content resource painted on a canvas."""

    id: str
    type: str  # one of KINDS
    format: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    image_service3: str | None = None  # base URI of an Image API 3.0 service (level 2)
    image_service2: str | None = None  # base URI of an Image API 2.1 service (level 2)
    extra_services: tuple[dict[str, Any], ...] = ()  # e.g. an Auth 2.0 probe service

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise ValueError(f"body type {self.type!r} is not one of {KINDS}")


@dataclass(frozen=True)
class CanvasSpec:
    id: str
    label: LangMap
    body: BodySpec
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    thumbnail: BodySpec | None = None
    annotations: tuple[str, ...] = ()  # AnnotationPage URLs about this canvas
    # what the uploader said of this one item (creator, date...), where it differs from the record
    metadata: tuple[tuple[LangMap, LangMap], ...] = ()
    rights: str | None = None
    required_statement: tuple[LangMap, LangMap] | None = None

    def __post_init__(self) -> None:
        if (self.width is None) != (self.height is None):
            raise ValueError("a canvas has both width and height, or neither")
        if self.width is None and self.duration is None:
            raise ValueError("a canvas needs width/height, a duration, or both")


@dataclass(frozen=True)
class RangeSpec:
    id: str
    label: LangMap
    canvases: tuple[str, ...]  # canvas ids, in order


@dataclass(frozen=True)
class PlaceSpec:
    """A point for ``navPlace`` (GeoJSON: longitude first)."""

    id: str
    lat: float
    lon: float
    label: LangMap


@dataclass(frozen=True)
class Link:
    """A linked resource: homepage, seeAlso, rendering, partOf."""

    id: str
    type: str
    label: LangMap | None = None
    format: str | None = None
    profile: str | None = None
    language: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    id: str
    label: LangMap
    homepage: Link | None = None


@dataclass(frozen=True)
class ManifestSpec:
    id: str
    label: LangMap
    summary: LangMap | None = None
    metadata: tuple[tuple[LangMap, LangMap], ...] = ()
    required_statement: tuple[LangMap, LangMap] | None = None
    rights: str | None = None
    provider: ProviderSpec | None = None
    homepage: tuple[Link, ...] = ()
    see_also: tuple[Link, ...] = ()
    rendering: tuple[Link, ...] = ()
    part_of: tuple[Link, ...] = ()
    thumbnail: BodySpec | None = None
    canvases: tuple[CanvasSpec, ...] = ()
    structures: tuple[RangeSpec, ...] = ()
    place: PlaceSpec | None = None
    nav_date: str | None = None
    annotations: tuple[str, ...] = ()  # AnnotationPage URLs
    services: tuple[dict[str, Any], ...] = field(default=())
    behavior: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberSpec:
    """An item of a collection: a manifest or another collection, by reference."""

    id: str
    type: str  # "Manifest" | "Collection"
    label: LangMap
    thumbnail: BodySpec | None = None


@dataclass(frozen=True)
class CollectionSpec:
    id: str
    label: LangMap
    summary: LangMap | None = None
    items: tuple[MemberSpec, ...] = ()
    part_of: tuple[Link, ...] = ()
    provider: ProviderSpec | None = None
    rights: str | None = None
    metadata: tuple[tuple[LangMap, LangMap], ...] = ()
    behavior: tuple[str, ...] = ()
