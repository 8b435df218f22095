"""Issue 15's rules for what a manifest says (ADR 0067): language maps list Vietnamese first,
no link to a page that does not exist, what the uploader said of an item reaches its canvas,
and a record with nothing to show has no manifest at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from iiif.presentation import build_collection, build_manifest
from services.iiif import domain, manifests
from tests.unit.iiif.presentation_samples import (
    BASE,
    IMAGE,
    LABELS,
    RECORD_ID,
    assets,
    every_kind_inputs,
    probe,
    record,
)


def language_maps(node: Any, path: str = "") -> list[tuple[str, list[str]]]:
    """Every IIIF language map in a document (``{"vi": [...], "en": [...]}``) and its path."""
    found: list[tuple[str, list[str]]] = []
    if isinstance(node, dict):
        keys = list(node)
        if (
            keys
            and all(isinstance(node[k], list) and len(k) <= 8 for k in keys)
            and ("vi" in keys or "en" in keys)
        ):
            found.append((path, keys))
        for key, value in node.items():
            found += language_maps(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found += language_maps(value, f"{path}[{n}]")
    return found


def english_first_record() -> dict[str, Any]:
    """The record as JSONB gives it back: keys sorted, so ``en`` before ``vi``."""
    doc = record()
    return json.loads(json.dumps(doc, sort_keys=True))


def test_every_language_map_of_a_manifest_lists_vietnamese_first():
    inputs = every_kind_inputs()
    inputs = domain.Inputs(
        base=inputs.base,
        record=english_first_record(),
        assets=[a | {"metadata": {"caption": {"en": "Leaf", "vi": "Tờ"}}} for a in assets()],
        level="public",
        labels={k: {"en": v["en"], "vi": v["vi"]} for k, v in LABELS.items()},
    )
    spec, _ = domain.manifest_spec(inputs, probe)
    doc = build_manifest(spec)
    maps = language_maps(doc)
    assert len(maps) > 20
    bad = [(path, keys) for path, keys in maps if keys[0] != "vi"]
    assert bad == []
    assert list(doc["label"]) == ["vi", "en"]


def test_every_language_map_of_a_collection_lists_vietnamese_first():
    members = [{"record_id": RECORD_ID, "label": {"en": "Decrees", "vi": "Sắc phong"}}]
    labels = {("rank", "national"): {"en": "National relic", "vi": "Di tích quốc gia"}}
    doc = build_collection(domain.collection_spec(BASE, "rank-national", labels, members, None, 1))
    maps = language_maps(doc)
    assert maps and [keys[0] for _, keys in maps] == ["vi"] * len(maps)


def test_no_manifest_links_to_the_record_page_the_portal_does_not_serve():
    spec, _ = domain.manifest_spec(every_kind_inputs(), probe)
    doc = build_manifest(spec)
    assert "homepage" not in doc
    assert "homepage" not in doc["provider"][0]  # nothing answers at the root yet either
    text = json.dumps(doc)
    assert f"{BASE}/records/" not in text
    assert domain.record_page_url(BASE, RECORD_ID) == f"{BASE}/api/v1/records/{RECORD_ID}"


def test_caption_creator_date_and_rights_given_at_upload_reach_the_canvas():
    meta = {
        "caption": {"vi": "Mặt trước sắc phong", "en": "Front of the decree"},
        "creator": "Nguyễn Văn A",
        "date": "2024-05-01",
        "licence": "https://creativecommons.org/licenses/by/4.0/",
    }
    own = [a | {"metadata": meta} if a["asset_id"] == IMAGE else a for a in assets()]
    inputs = every_kind_inputs()
    inputs = domain.Inputs(
        base=BASE, record=inputs.record, assets=own, level="public", labels=LABELS
    )
    spec, _ = domain.manifest_spec(inputs, probe)
    doc = build_manifest(spec)
    canvas = doc["items"][0]
    assert canvas["label"] == {"vi": ["Mặt trước sắc phong"], "en": ["Front of the decree"]}
    pairs = {m["label"]["en"][0]: m["value"]["vi"][0] for m in canvas["metadata"]}
    assert pairs == {"Creator": "Nguyễn Văn A", "Date": "2024-05-01"}
    assert canvas["rights"] == "http://creativecommons.org/licenses/by/4.0/"
    assert canvas["requiredStatement"]["value"] == {
        "vi": ["Nguyễn Văn A"],
        "en": ["Nguyễn Văn A"],
    }
    # an item that says nothing of its own shows the record's rights only, on the manifest
    other = doc["items"][1]
    assert "rights" not in other and "requiredStatement" not in other and "metadata" not in other
    # the same rights as the record's: not repeated on the canvas
    same = [
        a | {"metadata": {"rights_statement": "https://rightsstatements.org/vocab/InC-EDU/1.0/"}}
        for a in assets()
    ]
    inputs = domain.Inputs(base=BASE, record=inputs.record, assets=same, level="public", labels={})
    spec, _ = domain.manifest_spec(inputs, probe)
    assert "rights" not in build_manifest(spec)["items"][0]


def _record_row(**overrides: Any) -> dict[str, Any]:
    doc = record(heritage_class="tangible_site")
    return {
        "record_id": RECORD_ID,
        "state": "published",
        "deleted": False,
        "doc": doc,
        "heritage_class": "tangible_site",
        "version": 3,
        "updated_at": datetime.now(UTC),
    } | overrides


def test_a_published_record_without_ready_media_has_no_manifest():
    row = _record_row()
    assert manifests.build_from(BASE, row, None, [], {}, []) is None
    failed = [a | {"status": "failed"} for a in assets()]
    assert manifests.build_from(BASE, row, None, failed, {}, []) is None
    ready = [a | {"status": "ready"} for a in assets()][:1]
    built = manifests.build_from(BASE, row, None, ready, {}, [])
    assert built is not None and len(built.canvases) == 1
    assert manifests.removal_reason(row) == "no_content"
    assert manifests.removal_reason(_record_row(state="withdrawn")) == "withdrawn"
    assert manifests.removal_reason(_record_row(deleted=True)) == "deleted"


def test_collections_form_one_tree_with_one_naming_style():
    names = domain.memberships(record())
    assert names == [
        "all", "class-documentary", "rank-national", "district-le-chan",
        "commune-phuong-le-chan", "unesco", "unesco-memory-of-world",
        "communes", "districts", "ranks",
    ]  # fmt: skip
    assert all(domain.valid_collection_name(n) and "_" not in n for n in names)
    assert domain.children_of("all", names) == [
        "class-documentary", "ranks", "districts", "communes", "unesco"
    ]  # fmt: skip
    assert domain.children_of("ranks", names) == ["rank-national"]
    assert domain.children_of("unesco", names) == ["unesco-memory-of-world"]
    assert [domain.parent_of(n) for n in ("all", "ranks", "rank-national", "class-x")] == [
        None, "all", "ranks", "all"
    ]  # fmt: skip


def test_the_root_collection_links_its_sub_collections_then_its_manifests():
    members = [{"record_id": RECORD_ID, "label": {"vi": "Sắc phong", "en": "Decrees"}}]
    names = domain.memberships(record())
    children = domain.children_of("all", names)
    root = build_collection(domain.collection_spec(BASE, "all", LABELS, members, None, 1, children))
    kinds = [(i["type"], i["id"].rsplit("/", 1)[1]) for i in root["items"]]
    assert kinds[:5] == [("Collection", c) for c in children]
    assert kinds[-1] == ("Manifest", "manifest")
    assert "partOf" not in root
    ranks = build_collection(
        domain.collection_spec(BASE, "ranks", LABELS, [], None, 1, ["rank-national"])
    )
    assert ranks["partOf"][0]["id"] == f"{BASE}/iiif/presentation/3/collections/all"
    assert ranks["items"][0]["label"]["vi"] == ["Di tích quốc gia"]
    rank = build_collection(domain.collection_spec(BASE, "rank-national", LABELS, members, None, 1))
    assert rank["partOf"][0]["id"] == f"{BASE}/iiif/presentation/3/collections/ranks"
    paged = build_collection(domain.paged_collection_spec(BASE, "all", {}, 2500, 3, children))
    assert [i["id"].rsplit("/", 1)[1] for i in paged["items"]] == [*children, "1", "2", "3"]
