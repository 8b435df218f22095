"""IIIF Presentation 3.0 builders around iiif-prezi3: plain specs in, plain JSON out.

Callers describe a manifest or collection with the frozen dataclasses of ``iiif.presentation.spec``
(language maps, URLs, sizes recorded at ingest) and get back ``jsonld_dict()`` JSON. This package
is the only one that imports iiif-prezi3; it never makes a network call (no ``set_hwd_from_iiif``).
"""

from iiif.presentation.build import build_collection, build_manifest
from iiif.presentation.spec import (
    BodySpec,
    CanvasSpec,
    CollectionSpec,
    ManifestSpec,
    MemberSpec,
    PlaceSpec,
    RangeSpec,
)

__all__ = [
    "BodySpec",
    "CanvasSpec",
    "CollectionSpec",
    "ManifestSpec",
    "MemberSpec",
    "PlaceSpec",
    "RangeSpec",
    "build_collection",
    "build_manifest",
]
