"""Manifests and collections built from a record and its assets (services.iiif.domain +
iiif.presentation): what the issue asks each manifest to say, checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iiif.presentation import BodySpec, CanvasSpec, build_manifest
from services.iiif import domain
from tests.unit.iiif.presentation_samples import (
    AUDIO,
    BASE,
    IMAGE,
    MODEL,
    PDF,
    RECORD_ID,
    VIDEO,
    every_kind_inputs,
    probe,
)


def manifest(level: str = "public", **overrides):
    spec, rows = domain.manifest_spec(every_kind_inputs(level, **overrides), probe)
    return build_manifest(spec), rows


def bodies(doc):
    return {c["id"]: c["items"][0]["items"][0]["body"] for c in doc["items"]}


def test_manifest_says_who_what_where_in_vietnamese_first():
    doc, _ = manifest()
    assert doc["id"] == f"{BASE}/iiif/presentation/3/records/{RECORD_ID}/manifest"
    assert doc["label"] == {
        "vi": ["Sắc phong đình Hàng Kênh"],
        "en": ["Royal decrees of Hàng Kênh"],
    }
    assert doc["summary"]["vi"] == ["Bộ sắc phong chữ Hán Nôm."]
    pairs = {m["label"]["en"][0]: m["value"] for m in doc["metadata"]}
    assert pairs["Rank"]["vi"] == ["Di tích quốc gia (313/VH-QĐ, 1975-04-21)"]
    assert pairs["Script"] == {"vi": ["Hán Nôm"], "en": ["Hán-Nôm"]}
    assert pairs["Address before the 2025 reform"]["vi"] == ["Lê Chân; Hải Phòng"]
    assert pairs["Address"]["vi"] == ["Phường Lê Chân; Hải Phòng"]
    assert doc["requiredStatement"]["label"] == {"vi": ["Ghi công"], "en": ["Attribution"]}
    assert doc["rights"] == "http://rightsstatements.org/vocab/InC-EDU/1.0/"
    assert doc["provider"][0]["type"] == "Agent"
    assert "homepage" not in doc  # the portal has no record page yet (ADR 0067)
    see_also = {s["format"]: s for s in doc["seeAlso"]}
    assert see_also["application/ld+json"] == {
        "id": f"{BASE}/api/v1/records/{RECORD_ID}/jsonld",
        "type": "Dataset",
        "label": {"vi": ["Hồ sơ (JSON-LD, Dublin Core)"], "en": ["Record (JSON-LD, Dublin Core)"]},
        "format": "application/ld+json",
        "profile": "http://purl.org/dc/terms/",
    }
    assert see_also["application/xml"]["id"] == f"{BASE}/api/v1/records/{RECORD_ID}/dc.xml"
    assert see_also["application/xml"]["profile"] == "http://www.openarchives.org/OAI/2.0/oai_dc/"
    assert see_also["application/json"]["id"] == f"{BASE}/api/v1/records/{RECORD_ID}"
    assert doc["thumbnail"][0]["id"].startswith(f"{BASE}/iiif/image/3/{IMAGE}/full/400,")


def test_image_canvas_has_ingest_size_and_image_services_3_and_2():
    doc, rows = manifest()
    canvas = doc["items"][0]
    assert (canvas["width"], canvas["height"]) == (4000, 3000)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Image" and (body["width"], body["height"]) == (4000, 3000)
    services = {s.get("type") or s.get("@type"): s for s in body["service"]}
    assert services["ImageService3"]["id"] == f"{BASE}/iiif/image/3/{IMAGE}"
    assert services["ImageService3"]["profile"] == "level2"
    assert services["ImageService2"]["@id"] == f"{BASE}/iiif/image/2/{IMAGE}"
    assert rows[0]["canvas_id"] == canvas["id"] and rows[0]["width"] == 4000


def test_pdf_is_one_canvas_per_page_and_offered_whole_as_rendering():
    doc, rows = manifest()
    pages = [c for c in doc["items"] if f"/canvas/{PDF}/p" in c["id"]]
    assert [(c["width"], c["height"]) for c in pages] == [(1240, 1754), (1240, 1754)]
    assert [r["page"] for r in rows if r["asset_id"] == PDF] == [1, 2]
    assert doc["rendering"][0]["format"] == "application/pdf"


def test_audio_video_have_durations_and_3d_is_a_model_body():
    doc, _ = manifest()
    by_id = {c["id"]: c for c in doc["items"]}
    audio = by_id[domain.canvas_url(BASE, RECORD_ID, AUDIO)]
    video = by_id[domain.canvas_url(BASE, RECORD_ID, VIDEO)]
    assert audio["duration"] == 61.5 and "width" not in audio
    assert video["duration"] == 12.0 and video["width"] == 640
    assert bodies(doc)[audio["id"]]["type"] == "Sound"
    assert bodies(doc)[video["id"]]["type"] == "Video"
    model = bodies(doc)[domain.canvas_url(BASE, RECORD_ID, MODEL)]
    assert model["type"] == "Model" and model["format"] == "model/gltf-binary"


def test_nav_place_is_geojson_longitude_first_with_its_context():
    doc, _ = manifest()
    assert doc["@context"][-1] == "http://iiif.io/api/presentation/3/context.json"
    assert "navplace" in doc["@context"][0]
    feature = doc["navPlace"]["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [106.6881, 20.8449]}
    no_place, _ = manifest(location=None)
    assert "navPlace" not in no_place
    assert no_place["@context"] == "http://iiif.io/api/presentation/3/context.json"


def test_manuscript_sections_become_ranges():
    doc, _ = manifest()
    ranges = doc["structures"]
    assert ranges[0]["label"]["vi"] == ["Đạo thứ nhất"]
    assert ranges[0]["items"] == [
        {"id": domain.canvas_url(BASE, RECORD_ID, IMAGE), "type": "Canvas"}
    ]
    assert len(ranges[1]["items"]) == 2  # the PDF's pages
    site, _ = manifest(heritage_class="tangible_site", documentary=None)
    assert "structures" not in site


def test_restricted_content_carries_the_probe_service_and_public_does_not():
    restricted, _ = manifest("restricted")
    for body in bodies(restricted).values():
        assert any(s.get("type") == "AuthProbeService2" for s in body.get("service", [])), body
    public, _ = manifest("public")
    for body in bodies(public).values():
        assert not any(s.get("type") == "AuthProbeService2" for s in body.get("service", []))


def test_annotations_search_service_and_part_of_collections():
    doc, _ = manifest()
    assert doc["annotations"] == [
        {"id": f"{BASE}/iiif/annotations/3/pages/abc", "type": "AnnotationPage"}
    ]
    assert doc["service"][0]["type"] == "SearchService2"
    part_of = [p["id"].rsplit("/", 1)[1] for p in doc["partOf"]]
    assert part_of == [
        "all", "class-documentary", "rank-national", "district-le-chan",
        "commune-phuong-le-chan", "unesco", "unesco-memory-of-world",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"statement": "https://creativecommons.org/licenses/by/4.0"}, "http://creativecommons.org/licenses/by/4.0/"),
        ({"licence": "http://creativecommons.org/publicdomain/zero/1.0/"}, "http://creativecommons.org/publicdomain/zero/1.0/"),
        ({"statement": "https://example.org/my-licence"}, None),
        ({"licence": "CC BY 4.0"}, None),
    ],
)  # fmt: skip
def test_rights_are_cc_or_rightsstatements_http_uris_only(given, expected):
    assert domain.rights_uri({"rights": given}) == expected


def test_collection_names_and_slugs():
    assert domain.fold("Xã Thủy Nguyên, Đồ Sơn") == "xa-thuy-nguyen-do-son"
    assert domain.valid_collection_name("district-le-chan")
    assert not domain.valid_collection_name("district-le_chan")  # the old style: 301 (ADR 0067)
    assert domain.canonical_name("district-le_chan") == "district-le-chan"
    for bad in ("", "ALL", "rank-", "../etc", "class-x" + "y" * 100, "all?x", "district-a b"):
        assert not domain.valid_collection_name(bad), bad
        assert domain.canonical_name(bad) is None, bad
    label = domain.collection_label(
        "district-le-chan", {("district", "le_chan"): {"vi": "Lê Chân"}}
    )
    assert label["vi"] == "Lê Chân (quận/huyện trước 2025)"


def test_activities_for_create_update_and_moved_collections():
    built = domain.Built(
        RECORD_ID, "{}", '"e"', True, "tangible_site", ["all", "rank-city"], "", {"vi": "A"}, [], 1
    )
    created = domain.activities_for_change(BASE, None, built)
    assert created[0] == ("Create", domain.manifest_url(BASE, RECORD_ID), "Manifest")
    assert {a[1].rsplit("/", 1)[1] for a in created[1:]} == {"all", "rank-city"}
    old = {"collections": ["all", "rank-national"], "label": {"vi": "A"}}
    moved = domain.activities_for_change(BASE, old, built)
    assert moved[0][0] == "Update"
    assert {a[1].rsplit("/", 1)[1] for a in moved[1:]} == {"rank-city", "rank-national"}
    same = domain.activities_for_change(
        BASE, {"collections": ["all", "rank-city"], "label": {"vi": "A"}}, built
    )
    assert len(same) == 1


def test_an_ended_embargo_is_public():
    now = datetime.now(UTC)
    assert domain.effective_level(None) == "public"
    assert (
        domain.effective_level({"level": "embargoed", "embargo_until": now - timedelta(1)})
        == "public"
    )
    assert (
        domain.effective_level({"level": "embargoed", "embargo_until": now + timedelta(1)})
        == "embargoed"
    )
    assert domain.effective_level({"level": "restricted", "embargo_until": None}) == "restricted"


def test_canvas_spec_refuses_half_a_size_and_sizeless_canvases():
    body = BodySpec(id="https://x/b", type="Image", format="image/jpeg")
    with pytest.raises(ValueError):
        CanvasSpec(id="https://x/c", label={"vi": "a"}, body=body, width=10)
    with pytest.raises(ValueError):
        CanvasSpec(id="https://x/c", label={"vi": "a"}, body=body)
    with pytest.raises(ValueError):
        BodySpec(id="https://x/b", type="Picture", format="image/jpeg")


def test_a_restricted_asset_of_a_public_record_alone_gets_the_probe():
    inputs = every_kind_inputs("public")
    for asset in inputs.assets:
        asset["level"] = "restricted" if asset["asset_id"] == IMAGE else "public"
    spec, _ = domain.manifest_spec(inputs, probe)
    doc = build_manifest(spec)
    probed = {
        canvas_id
        for canvas_id, body in bodies(doc).items()
        if any(s.get("type") == "AuthProbeService2" for s in body.get("service", []))
    }
    assert probed == {domain.canvas_url(BASE, RECORD_ID, IMAGE)}
