"""A record as JSON-LD (DCMI terms) and as Dublin Core XML (oai_dc): language-tagged texts,
one set of facts in both, only what a draft may show, valid XML whatever the text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from services.gateway.linked_data import (
    CONTEXT,
    DC,
    LINKED_DATA_EXAMPLES,
    OAI_DC,
    VocabularyLabels,
    address_text,
    dublin_core_xml,
    jsonld,
)
from services.gateway.record_docs import RECORD_RESPONSE

BASE = "https://disan.example"
DC_ELEMENTS = {
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
}  # fmt: skip
DCTERMS_IRI = "http://purl.org/dc/terms/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
TERMS = {
    ("district", "thuy_nguyen"): {"vi": "huyện Thủy Nguyên", "en": "Thủy Nguyên district"},
    ("province", "hai_phong"): {"vi": "thành phố Hải Phòng", "en": "Hải Phòng city"},
    ("period", "tran"): {"vi": "Nhà Trần", "en": "Trần dynasty"},
}


def labels(scheme: str, code: str) -> dict[str, str] | None:
    return TERMS.get((scheme, code))


def record(**overrides: Any) -> dict[str, Any]:
    return (
        RECORD_RESPONSE
        | {
            "state": "published",
            "periods": ["tran"],
            "rights": {
                "statement": "https://rightsstatements.org/vocab/InC/1.0/",
                "licence": "CC BY 4.0",
                "holder": {"vi": "Bảo tàng Hải Phòng", "en": "Hải Phòng Museum"},
            },
            "referenced_by": [{"id": "11111111-2222-4333-8444-555555555555"}],
        }
        | overrides
    )


def values(doc: dict[str, Any], term: str) -> list[Any]:
    return doc.get(f"dcterms:{term}", [])


def test_jsonld_uses_only_dcterms_and_its_context_with_language_tagged_texts():
    doc = jsonld(record(), BASE, labels)
    assert doc["@context"] == CONTEXT
    assert doc["@id"] == f"{BASE}/api/v1/records/{RECORD_RESPONSE['id']}"
    assert doc["@type"] == "dcmitype:PhysicalObject"

    def check(node: Any) -> None:  # every key is a keyword or a prefixed name of the context
        if isinstance(node, list):
            for item in node:
                check(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                assert key.startswith("@") or key.split(":", 1)[0] in CONTEXT, key
                if key != "@context":
                    check(value)

    check(doc)
    title = values(doc, "title")
    assert {t["@language"]: t["@value"] for t in title} == RECORD_RESPONSE["title"]
    assert "HP-DT-0005" in values(doc, "identifier")
    assert f"urn:uuid:{RECORD_RESPONSE['id']}" in values(doc, "identifier")
    place = values(doc, "spatial")[0]
    assert place["geo:lat"] == {"@value": "20.96", "@type": "xsd:decimal"}
    names = {t["@language"]: t["@value"] for t in place["dcterms:title"]}
    assert names["vi"].startswith("thành phố Hải Phòng (trước 2025: xã Minh Đức")
    assert "Thủy Nguyên district" in names["en"]
    assert {"@value": "Trần dynasty", "@language": "en"} in values(doc, "temporal")
    assert {"@value": "2020-11-04", "@type": "xsd:date"} in values(doc, "dateAccepted")
    assert {"@id": "https://rightsstatements.org/vocab/InC/1.0/"} in values(doc, "rights")
    assert values(doc, "license") == ["CC BY 4.0"]
    assert {"@value": "Hải Phòng Museum", "@language": "en"} in values(doc, "rightsHolder")
    assert {t["@language"] for t in values(doc, "publisher")} == {"vi", "en"}
    assert {"@id": f"{BASE}/iiif/presentation/3/collections/class-tangible-site"} in values(
        doc, "isPartOf"
    )
    manifest = f"{BASE}/iiif/presentation/3/records/{RECORD_RESPONSE['id']}/manifest"
    assert values(doc, "hasFormat") == [{"@id": manifest}]
    assert values(doc, "relation") == [
        {"@id": f"{BASE}/api/v1/records/3f4a1f0e-2c4b-5d2e-8a1b-6c7d8e9f0a12"}
    ]
    assert values(doc, "isReferencedBy") == [
        {"@id": f"{BASE}/api/v1/records/11111111-2222-4333-8444-555555555555"}
    ]
    assert values(doc, "source")[0].endswith("<https://vanban.chinhphu.vn/>")
    json.dumps(doc)  # plain JSON


def test_a_draft_is_in_no_collection_and_has_no_manifest():
    doc = jsonld(record(state="draft"), BASE, labels)
    assert "dcterms:isPartOf" not in doc and "dcterms:hasFormat" not in doc


def test_codes_without_labels_are_shown_as_codes():
    doc = jsonld(record(periods=["unknown_era"]), BASE, lambda scheme, code: None)
    assert {"@value": "unknown_era", "@language": "vi"} in values(doc, "temporal")
    assert "thuy_nguyen" in values(doc, "spatial")[0]["dcterms:title"][0]["@value"]


def test_dublin_core_xml_is_oai_dc_with_the_same_facts():
    root = ET.fromstring(dublin_core_xml(record(), BASE, labels))
    assert root.tag == f"{{{OAI_DC}}}dc"
    names = {child.tag for child in root}
    assert {n.split("}", 1)[1] for n in names} <= DC_ELEMENTS
    assert all(n.startswith(f"{{{DC}}}") for n in names)
    titles = {t.get(XML_LANG): t.text for t in root.findall(f"{{{DC}}}title")}
    assert titles == RECORD_RESPONSE["title"]
    coverage = [c.text for c in root.findall(f"{{{DC}}}coverage")]
    assert "east=106.74; north=20.96; projection=WGS84" in coverage
    assert "Trần dynasty" in coverage
    rights = [r.text for r in root.findall(f"{{{DC}}}rights")]
    assert "https://rightsstatements.org/vocab/InC/1.0/" in rights and "CC BY 4.0" in rights
    relations = [r.text for r in root.findall(f"{{{DC}}}relation")]
    assert any(r.endswith("/manifest") for r in relations)
    doc = jsonld(record(), BASE, labels)
    identifiers = [i.text for i in root.findall(f"{{{DC}}}identifier")]
    assert identifiers == [i if isinstance(i, str) else i["@id"] for i in values(doc, "identifier")]


def test_any_text_makes_well_formed_xml():
    hostile = {"vi": "a <b> & \x01\x0b ]]> \"'", "en": "x\ufffey"}
    body = dublin_core_xml(record(title=hostile, description=None), BASE, labels)
    root = ET.fromstring(body)
    assert root.find(f"{{{DC}}}title").text == "a <b> &  ]]> \"'"
    assert root.find(f"{{{DC}}}description") is None


def test_address_text_without_old_units_or_without_any():
    assert address_text({"address": None}, labels) is None
    now = address_text({"address": {"province_current": "hai_phong"}}, labels)
    assert now == {"vi": "thành phố Hải Phòng", "en": "Hải Phòng city"}


class FakeCatalogue:
    def __init__(self) -> None:
        self.calls = 0

    def call(self, method: str, scheme: str, timeout: float) -> dict[str, Any]:
        self.calls += 1
        if scheme == "nothing":
            raise RuntimeError("no vocabulary")
        return {"terms": [{"code": "tran", "labels": {"vi": "Nhà Trần", "en": "Trần dynasty"}}]}


def test_vocabulary_labels_are_asked_once_per_scheme_and_missing_ones_are_none():
    catalogue = FakeCatalogue()
    lookup = VocabularyLabels().lookup(catalogue)  # type: ignore[arg-type]
    assert lookup("period", "tran") == {"vi": "Nhà Trần", "en": "Trần dynasty"}
    assert lookup("period", "le") is None
    assert catalogue.calls == 1
    assert lookup("nothing", "x") is None and catalogue.calls == 2


def test_the_openapi_examples_are_built_by_the_renderers():
    example = LINKED_DATA_EXAMPLES["record_jsonld"]
    assert example["response_type"] == "application/ld+json"
    assert example["response"]["dcterms:title"]
    xml_example = LINKED_DATA_EXAMPLES["record_dublin_core"]["response"]
    assert ET.fromstring(xml_example.encode()).tag == f"{{{OAI_DC}}}dc"


def test_the_openapi_document_describes_both_renderings():
    from services.gateway.openapi import build_openapi
    from services.gateway.service import GatewayService

    spec = build_openapi(GatewayService, BASE, "test")
    for path, media in (
        ("/api/v1/records/{record_id}/jsonld", "application/ld+json"),
        ("/api/v1/records/{record_id}/dc.xml", "application/xml"),
    ):
        op = spec["paths"][path]["get"]
        assert op["x-required-roles"] == ["public"]
        assert list(op["responses"]["200"]["content"]) == [media]
        assert op["responses"]["200"]["content"][media]["example"]
        assert {"401", "403", "404"} <= set(op["responses"])


def test_the_http_servers_refusals_are_complete_json_answers():
    from services.gateway.http import refusal

    raw = refusal(414, "URI Too Long", "uri_too_long", "the URL is longer than 32768 bytes")
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "HTTP/1.1 414 URI Too Long"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Connection"] == "close"
    assert json.loads(body)["error"]["code"] == "uri_too_long"


def test_a_json_ld_processor_reads_every_term_and_the_language_tags():
    """PyLD expands the document offline (its context is inline: no remote context is fetched)
    into RDF; a term the context did not define would be dropped silently, so every property of
    the document must come out as a predicate."""
    from pyld import jsonld as processor

    def no_network(url: str, options: Any = None) -> Any:
        raise AssertionError(f"the JSON-LD needs a remote document: {url}")

    processor.set_document_loader(no_network)
    doc = jsonld(record(), BASE, labels)
    triples = processor.to_rdf(doc, {"format": "application/n-quads"}).splitlines()
    predicates = {line.split(" ")[1].strip("<>") for line in triples}
    # every key is prefix:term (the context maps the prefixes; a bare key would be dropped)
    expanded = {
        CONTEXT[key.split(":", 1)[0]] + key.split(":", 1)[1] for key in doc if key[0] != "@"
    }
    assert expanded <= predicates, expanded - predicates
    subject = f"<{BASE}/api/v1/records/{RECORD_RESPONSE['id']}>"
    title = f"{subject} <{DCTERMS_IRI}title>"
    assert any(line.startswith(title) and line.endswith('"@vi .') for line in triples)
    assert any(line.startswith(title) and line.endswith('"@en .') for line in triples)


def test_a_published_record_without_a_manifest_links_no_manifest_nor_collection():
    """A published record with nothing to show has no manifest (ADR 0067): its linked data
    names neither the manifest (a 404) nor the collections (which do not list it)."""
    doc = jsonld(record(has_manifest=False), BASE, labels)
    assert "dcterms:hasFormat" not in doc and "dcterms:isPartOf" not in doc
    xml = dublin_core_xml(record(has_manifest=False), BASE, labels).decode("utf-8")
    assert "/manifest" not in xml and "/collections/" not in xml
    assert "dcterms:hasFormat" in jsonld(record(has_manifest=True), BASE, labels)
