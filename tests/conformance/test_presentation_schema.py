"""Manifests and collections the iiif service builds validate against the official IIIF
Presentation 3.0 JSON Schema, and the same check rejects the validator's broken fixtures.
"""

from __future__ import annotations

import json

import pytest

from iiif.presentation import build_collection, build_manifest
from services.iiif import domain
from tests.conformance.presentation import (
    BROKEN,
    FIXTURES,
    presentation_errors,
    require_schema,
)
from tests.unit.iiif.presentation_samples import BASE, every_kind_inputs, probe, record

pytestmark = pytest.mark.conformance


@pytest.mark.parametrize("name", BROKEN)
def test_broken_fixture_is_rejected(name):
    require_schema()
    doc = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert presentation_errors(doc), f"{name} should be rejected by the schema"


@pytest.mark.parametrize(
    "name", ["full_example", "navPlace", "simple_video", "range_range", "collection", "annoPage"]
)
def test_valid_fixture_is_accepted(name):
    require_schema()
    doc = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert presentation_errors(doc) == []


@pytest.mark.parametrize("level", ["public", "restricted"])
def test_manifest_with_every_kind_of_content_is_valid(level):
    require_schema()
    spec, _ = domain.manifest_spec(every_kind_inputs(level), probe)
    manifest = build_manifest(spec)
    assert presentation_errors(manifest) == []


@pytest.mark.parametrize("heritage_class", ["tangible_site", "intangible", "museum_object"])
def test_manifest_of_each_class_without_media_is_valid(heritage_class):
    require_schema()
    inputs = domain.Inputs(
        base=BASE,
        record=record(heritage_class=heritage_class),
        assets=[],
        level="public",
        labels={},
    )
    spec, rows = domain.manifest_spec(inputs, probe)
    assert rows == []
    assert presentation_errors(build_manifest(spec)) == []


def test_collections_plain_paged_and_page_are_valid():
    require_schema()
    members = [{"record_id": record()["id"], "label": {"vi": "Đình Hàng Kênh", "en": "Hàng Kênh"}}]
    plain = build_collection(domain.collection_spec(BASE, "rank-national", {}, members, None, 1))
    paged = build_collection(domain.paged_collection_spec(BASE, "all", {}, 2500, 3))
    page = build_collection(domain.collection_spec(BASE, "all", {}, members, 2, 3))
    empty = build_collection(domain.collection_spec(BASE, "all", {}, [], None, 1))
    for doc in (plain, paged, page, empty):
        assert presentation_errors(doc) == [], doc["id"]


def test_the_check_can_fail_on_a_built_manifest():
    require_schema()
    spec, _ = domain.manifest_spec(every_kind_inputs("public"), probe)
    manifest = build_manifest(spec)
    manifest["items"][0]["items"][0]["items"][0]["motivation"] = 5
    del manifest["label"]
    assert presentation_errors(manifest)


def test_a_canvas_with_what_the_uploader_said_is_valid():
    """Caption, creator, date and an own licence on a canvas (ADR 0067) keep the schema."""
    require_schema()
    inputs = every_kind_inputs("public")
    meta = {
        "caption": {"vi": "Mặt trước", "en": "Front"},
        "creator": "Nguyễn Văn A",
        "date": "1924",
        "licence": "https://creativecommons.org/licenses/by/4.0/",
        "rights_statement": "Bản quyền của gia đình",
    }
    assets = [a | {"metadata": meta} for a in inputs.assets]
    spec, _ = domain.manifest_spec(domain.Inputs(**(inputs.__dict__ | {"assets": assets})), probe)
    manifest = build_manifest(spec)
    assert manifest["items"][0]["rights"] == "http://creativecommons.org/licenses/by/4.0/"
    assert presentation_errors(manifest) == []
