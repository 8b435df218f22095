"""A restricted record's thumbnails carry their Auth 2.0 probe service, as its content does
(services.iiif.domain + iiif.presentation; ADR 0035)."""

from __future__ import annotations

from typing import Any

from iiif.presentation import build_manifest
from services.iiif import domain
from tests.unit.iiif.presentation_samples import BASE, IMAGE, PDF, VIDEO, every_kind_inputs, probe


def built(level: str) -> dict[str, Any]:
    spec, _ = domain.manifest_spec(every_kind_inputs(level), probe)
    return build_manifest(spec)


def probes(resource: dict[str, Any]) -> list[str]:
    return [s["id"] for s in resource.get("service", []) if s.get("type") == "AuthProbeService2"]


def thumbnails(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each canvas's thumbnail by canvas id, and the manifest's under ``manifest``."""
    found = {c["id"]: c["thumbnail"][0] for c in doc["items"] if c.get("thumbnail")}
    found["manifest"] = doc["thumbnail"][0]
    return found


def test_every_thumbnail_of_a_restricted_record_has_the_probe_of_its_asset() -> None:
    doc = built("restricted")
    found = thumbnails(doc)
    assert len(found) >= 3  # image, PDF pages, video poster, and the manifest's own
    for where, thumbnail in found.items():
        (probe_id,) = probes(thumbnail)
        assert probe_id.rsplit("/", 1)[1] in (IMAGE, PDF, VIDEO), where
    assert probes(found["manifest"]) == [probe(BASE, IMAGE)["id"]]


def test_public_thumbnails_have_no_probe() -> None:
    for thumbnail in thumbnails(built("public")).values():
        assert probes(thumbnail) == []
