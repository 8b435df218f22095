"""Specs → iiif-prezi3 objects → JSON. The one module of the platform that imports iiif-prezi3."""

from __future__ import annotations

import json
from typing import Any

import iiif_prezi3 as p3

from iiif.presentation.spec import (
    BodySpec,
    CanvasSpec,
    CollectionSpec,
    LangMap,
    Link,
    ManifestSpec,
    ProviderSpec,
    RangeSpec,
)
from shared.languages import vi_first

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
NAVPLACE_CONTEXT = "http://iiif.io/api/extension/navplace/context.json"
IMAGE3_PROFILE = "level2"
IMAGE2_PROFILE = "http://iiif.io/api/image/2/level2.json"


def lang(value: LangMap) -> dict[str, list[str]]:
    """A IIIF language map from ``{"vi": "...", "en": "..."}`` (blank entries dropped), ``vi``
    first and ``en`` second whatever order the source had (JSONB keeps keys sorted, ``en``
    first), so viewers that show the first language show Vietnamese."""
    out = vi_first({k: [v] for k, v in value.items() if isinstance(v, str) and v.strip()})
    if not out:
        raise ValueError("a language map needs at least one non-blank text")
    return out


def _kv(pair: tuple[LangMap, LangMap]) -> p3.KeyValueString:
    return p3.KeyValueString(label=lang(pair[0]), value=lang(pair[1]))


def _services(body: BodySpec) -> list[Any]:
    services: list[Any] = []
    if body.image_service3:
        services.append(
            p3.ServiceV3(id=body.image_service3, type="ImageService3", profile=IMAGE3_PROFILE)
        )
    if body.image_service2:
        services.append(
            p3.ServiceV2(id=body.image_service2, type="ImageService2", profile=IMAGE2_PROFILE)
        )
    return services


def _body(body: BodySpec) -> p3.AnnotationBody:
    fields: dict[str, Any] = {"id": body.id, "type": body.type, "format": body.format}
    if body.width is not None and body.height is not None:
        fields |= {"width": body.width, "height": body.height}
    if body.duration is not None:
        fields["duration"] = body.duration
    services = _services(body)
    if services:
        fields["service"] = services
    return p3.AnnotationBody(**fields)


def _link(link: Link) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": link.id, "type": link.type}
    if link.label is not None:
        fields["label"] = lang(link.label)
    if link.format is not None:
        fields["format"] = link.format
    if link.profile is not None:
        fields["profile"] = link.profile
    if link.language:
        fields["language"] = list(link.language)
    return fields


def _provider(spec: ProviderSpec) -> p3.Provider:
    fields: dict[str, Any] = {"id": spec.id, "type": "Agent", "label": lang(spec.label)}
    if spec.homepage is not None:
        fields["homepage"] = [_link(spec.homepage)]
    return p3.Provider(**fields)


def _canvas(spec: CanvasSpec) -> p3.Canvas:
    fields: dict[str, Any] = {"id": spec.id, "label": lang(spec.label)}
    if spec.width is not None and spec.height is not None:
        fields |= {"width": spec.width, "height": spec.height}
    if spec.duration is not None:
        fields["duration"] = spec.duration
    if spec.thumbnail is not None:
        fields["thumbnail"] = [_body(spec.thumbnail)]
    if spec.metadata:
        fields["metadata"] = [_kv(pair) for pair in spec.metadata]
    if spec.required_statement is not None:
        fields["requiredStatement"] = _kv(spec.required_statement)
    if spec.rights:
        fields["rights"] = spec.rights
    canvas = p3.Canvas(**fields)
    page = p3.AnnotationPage(id=f"{spec.id}/page")
    page.add_item(
        p3.Annotation(
            id=f"{spec.id}/painting",
            motivation="painting",
            body=_body(spec.body),
            target=spec.id,
        )
    )
    canvas.add_item(page)
    if spec.annotations:
        canvas.annotations = [
            p3.AnnotationPageRef(id=a, type="AnnotationPage") for a in spec.annotations
        ]
    return canvas


def _range(spec: RangeSpec) -> p3.Range:
    return p3.Range(
        id=spec.id,
        label=lang(spec.label),
        items=[p3.CanvasRef(id=c, type="Canvas") for c in spec.canvases],
    )


def _add_services(resource: dict[str, Any], services: tuple[dict[str, Any], ...]) -> None:
    resource["service"] = list(resource.get("service", [])) + [dict(s) for s in services]


def _with_thumbnail_services(doc: dict[str, Any], spec: ManifestSpec) -> None:
    """Add the thumbnails' non-image services (a restricted thumbnail's Auth 2.0 probe)."""
    if spec.thumbnail is not None and spec.thumbnail.extra_services and doc.get("thumbnail"):
        _add_services(doc["thumbnail"][0], spec.thumbnail.extra_services)
    extras = {
        c.id: c.thumbnail.extra_services
        for c in spec.canvases
        if c.thumbnail is not None and c.thumbnail.extra_services
    }
    for canvas in doc.get("items", []):
        if canvas["id"] in extras and canvas.get("thumbnail"):
            _add_services(canvas["thumbnail"][0], extras[canvas["id"]])


def _with_extra_services(doc: dict[str, Any], spec: ManifestSpec) -> None:
    """Add non-image services (e.g. Auth 2.0 probes) to the painted bodies, as given."""
    _with_thumbnail_services(doc, spec)
    extras = {c.id: c.body.extra_services for c in spec.canvases if c.body.extra_services}
    if not extras:
        return
    for canvas in doc.get("items", []):
        services = extras.get(canvas["id"])
        if not services:
            continue
        for page in canvas.get("items", []):
            for anno in page.get("items", []):
                body = anno["body"]
                body["service"] = list(body.get("service", [])) + [dict(s) for s in services]


def build_manifest(spec: ManifestSpec) -> dict[str, Any]:
    """A Presentation 3.0 Manifest as JSON (``@context`` first)."""
    fields: dict[str, Any] = {"id": spec.id, "label": lang(spec.label)}
    if spec.summary:
        fields["summary"] = lang(spec.summary)
    if spec.metadata:
        fields["metadata"] = [_kv(pair) for pair in spec.metadata]
    if spec.required_statement is not None:
        fields["requiredStatement"] = _kv(spec.required_statement)
    if spec.rights:
        fields["rights"] = spec.rights
    if spec.provider is not None:
        fields["provider"] = [_provider(spec.provider)]
    if spec.homepage:
        fields["homepage"] = [_link(h) for h in spec.homepage]
    if spec.see_also:
        fields["seeAlso"] = [_link(s) for s in spec.see_also]
    if spec.rendering:
        fields["rendering"] = [_link(r) for r in spec.rendering]
    if spec.part_of:
        fields["partOf"] = [_link(pt) for pt in spec.part_of]
    if spec.thumbnail is not None:
        fields["thumbnail"] = [_body(spec.thumbnail)]
    if spec.nav_date:
        fields["navDate"] = spec.nav_date
    if spec.behavior:
        fields["behavior"] = list(spec.behavior)
    if spec.place is not None:
        fields["navPlace"] = {
            "id": f"{spec.place.id}",
            "type": "FeatureCollection",
            "features": [
                {
                    "id": f"{spec.place.id}/feature/1",
                    "type": "Feature",
                    "properties": {"label": lang(spec.place.label)},
                    "geometry": {"type": "Point", "coordinates": [spec.place.lon, spec.place.lat]},
                }
            ],
        }
    manifest = p3.Manifest(**fields)
    for canvas in spec.canvases:
        manifest.add_item(_canvas(canvas))
    if spec.structures:
        manifest.structures = [_range(r) for r in spec.structures]
    if spec.annotations:
        manifest.annotations = [
            p3.AnnotationPageRef(id=a, type="AnnotationPage") for a in spec.annotations
        ]
    doc: dict[str, Any] = json.loads(manifest.jsonld())
    if spec.services:
        doc["service"] = [dict(s) for s in spec.services]
    _with_extra_services(doc, spec)
    if spec.place is not None:
        doc["@context"] = [NAVPLACE_CONTEXT, PRESENTATION_CONTEXT]
    return _context_first(doc)


def build_collection(spec: CollectionSpec) -> dict[str, Any]:
    """A Presentation 3.0 Collection whose items are references to manifests or collections."""
    fields: dict[str, Any] = {"id": spec.id, "label": lang(spec.label)}
    if spec.summary:
        fields["summary"] = lang(spec.summary)
    if spec.metadata:
        fields["metadata"] = [_kv(pair) for pair in spec.metadata]
    if spec.rights:
        fields["rights"] = spec.rights
    if spec.provider is not None:
        fields["provider"] = [_provider(spec.provider)]
    if spec.part_of:
        fields["partOf"] = [_link(pt) for pt in spec.part_of]
    if spec.behavior:
        fields["behavior"] = list(spec.behavior)
    collection = p3.Collection(**fields)
    items: list[Any] = []
    for member in spec.items:
        ref: dict[str, Any] = {"id": member.id, "type": member.type, "label": lang(member.label)}
        if member.thumbnail is not None:
            ref["thumbnail"] = [_body(member.thumbnail)]
        cls = p3.ManifestRef if member.type == "Manifest" else p3.CollectionRef
        items.append(cls(**ref))
    collection.items = items
    doc: dict[str, Any] = json.loads(collection.jsonld())
    if not spec.items:
        doc["items"] = []
    return _context_first(doc)


def _context_first(doc: dict[str, Any]) -> dict[str, Any]:
    context = doc.pop("@context", PRESENTATION_CONTEXT)
    return {"@context": context} | doc
