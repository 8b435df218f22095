"""Linked-data renderings of a record: JSON-LD with Dublin Core terms, and Dublin Core XML.

What a IIIF manifest's ``seeAlso`` points at (ADR 0066): ``/api/v1/records/{id}/jsonld``
(``application/ld+json``, DCMI Metadata Terms) and ``/api/v1/records/{id}/dc.xml``
(``application/xml``, the OAI-PMH ``oai_dc`` record: the fifteen elements of
``http://purl.org/dc/elements/1.1/``). Both are read exactly as ``GET /api/v1/records/{id}``
(ADR 0040): the catalogue decides what the caller may see (public: published only), then the
access gate the record's policy (restricted → 401 anonymous, 403 without the right).

One list of ``(term, value)`` pairs is built from the record and rendered twice, so the two
documents never disagree. Texts are language-tagged (``vi``, ``en``); vocabulary codes are shown
with their labels (asked of the catalogue once per vocabulary and kept a few minutes).
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import INCLUDE, Schema, fields
from werkzeug.wrappers import Response

from services.gateway.http import PUBLIC, ApiRequest, api, json_response
from services.gateway.record_docs import RECORD_RESPONSE
from shared.iiif_surface import (
    PROVIDER_LABEL,
    collection_url,
    collections_of,
    manifest_url,
    record_page_url,
)
from shared.rpc_client import ServiceClient

DCTERMS = "http://purl.org/dc/terms/"
DCMITYPE = "http://purl.org/dc/dcmitype/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
JSONLD_TYPE = "application/ld+json"
XML_TYPE = "application/xml; charset=utf-8"
CONTEXT = {"dcterms": DCTERMS, "dcmitype": DCMITYPE, "geo": GEO, "xsd": XSD}
LANGUAGES = ("vi", "en")
LABEL_SECONDS = 300.0
LABEL_TIMEOUT = 5.0  # a slow catalogue costs labels (codes shown), not the answer
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}
SAFE = {"X-Content-Type-Options": "nosniff", "Vary": "Authorization, X-API-Key"}

# both renderings answer as GET /api/v1/records/{id} does
READ_ERRORS = {
    401: "restricted record, anonymous caller",
    403: "restricted record",
    404: "no such record (or not published)",
}

LangMap = dict[str, str]
Labels = Callable[[str, str], LangMap | None]

# heritage class → DCMI type and a label of one record of the class
CLASSES: dict[str, tuple[str, LangMap]] = {
    "tangible_site": ("PhysicalObject", {"vi": "Di tích", "en": "Heritage site"}),
    "intangible": ("Event", {"vi": "Di sản văn hóa phi vật thể", "en": "Intangible heritage"}),
    "museum_object": ("PhysicalObject", {"vi": "Hiện vật bảo tàng", "en": "Museum object"}),
    "documentary": ("Text", {"vi": "Di sản tư liệu", "en": "Documentary heritage"}),
}
# DCMI term → oai_dc element (only these fifteen exist in oai_dc)
DC_ELEMENT = {
    "title": "title",
    "alternative": "title",
    "description": "description",
    "subject": "subject",
    "type": "type",
    "identifier": "identifier",
    "spatial": "coverage",
    "temporal": "coverage",
    "dateAccepted": "date",
    "modified": "date",
    "rights": "rights",
    "license": "rights",
    "rightsHolder": "rights",
    "publisher": "publisher",
    "isPartOf": "relation",
    "relation": "relation",
    "isReferencedBy": "relation",
    "hasFormat": "relation",
    "source": "source",
}
for _prefix, _uri in (("oai_dc", OAI_DC), ("dc", DC), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Value:
    """One value of a term: language-tagged text, plain text, a URI, a typed literal or a
    place (``text`` its name, ``lat``/``lon`` its point)."""

    text: LangMap | str
    kind: str = "text"  # text | uri | typed | place
    datatype: str | None = None
    lat: float | None = None
    lon: float | None = None


Pair = tuple[str, Value]


def _lm(value: Any) -> LangMap | None:
    if isinstance(value, dict):
        out = {k: v.strip() for k in LANGUAGES if isinstance(v := value.get(k), str) and v.strip()}
        return out or None
    return None


def _term(labels: Labels, scheme: str, code: Any) -> LangMap | None:
    if not isinstance(code, str) or not code:
        return None
    return labels(scheme, code) or {"vi": code, "en": code}


def _place(labels: Labels, value: Any, scheme: str) -> LangMap | None:
    """A commune reference (``{"code", "vi", "en"}``) or a code of ``scheme``."""
    if isinstance(value, dict):
        names = _lm(value)
        return names or _term(labels, scheme, value.get("code"))
    return _term(labels, scheme, value)


def _joined(parts: list[LangMap | None]) -> LangMap | None:
    present = [p for p in parts if p]
    if not present:
        return None
    return {
        lang: ", ".join(p.get(lang) or p.get("vi") or "" for p in present) for lang in LANGUAGES
    }


def address_text(doc: dict[str, Any], labels: Labels) -> LangMap | None:
    """The address in words, today's units first, then the units before the 2025 reform."""
    address = doc.get("address") or {}
    now = _joined(
        [
            _lm(address.get("street")),
            _place(labels, address.get("commune_current"), "commune_current"),
            _term(labels, "province", address.get("province_current")),
        ]
    )
    before = _joined(
        [
            _place(labels, address.get("commune_pre2025"), "commune_pre2025"),
            _term(labels, "district", address.get("district_pre2025")),
            _term(labels, "province", address.get("province_pre2025")),
        ]
    )
    if before is None:
        return now
    prefix = {"vi": "trước 2025: ", "en": "before 2025: "}
    old = {lang: prefix[lang] + before[lang] for lang in LANGUAGES}
    if now is None:
        return old
    return {lang: f"{now[lang]} ({old[lang]})" for lang in LANGUAGES}


def dc_pairs(record: dict[str, Any], base: str, labels: Labels) -> list[Pair]:
    """The record as (DCMI term, value) pairs, in a stable order."""
    record_id = str(record["id"])
    pairs: list[Pair] = []

    def add(term: str, value: LangMap | str | None, kind: str = "text", **more: Any) -> None:
        if value:
            pairs.append((term, Value(value, kind, **more)))

    add("title", _lm(record.get("title")))
    for alternative in record.get("alternative_titles") or []:
        add("alternative", _lm(alternative))
    add("description", _lm(record.get("description")))
    for subject in record.get("subjects") or []:
        add("subject", _lm(subject))
    cls = CLASSES.get(str(record.get("heritage_class")))
    if cls is not None:
        add("type", DCMITYPE + cls[0], "uri")
        add("type", cls[1])
    add("type", _term(labels, "heritage_type", record.get("heritage_type")))
    add("identifier", f"urn:uuid:{record_id}")
    add("identifier", record.get("inventory_number"))
    add("identifier", record_page_url(base, record_id), "uri")
    location = record.get("location") or {}
    place_name = address_text(record, labels)
    if isinstance(location, dict) and location.get("lat") is not None:
        lat, lon = float(location["lat"]), float(location["lon"])
        add("spatial", place_name or _lm(record.get("title")), "place", lat=lat, lon=lon)
    else:
        add("spatial", place_name)
    for period in record.get("periods") or []:
        add("temporal", _term(labels, "period", period))
    for block in ("museum_object", "documentary"):
        part = record.get(block) or {}
        add("temporal", _lm(part.get("dating")))
        add("temporal", _term(labels, "period", part.get("period")))
    decision = ((record.get("rank") or {}).get("decision")) or {}
    add("dateAccepted", decision.get("date"), "typed", datatype="xsd:date")
    unesco = record.get("unesco") or {}
    if unesco.get("year"):
        add("dateAccepted", str(unesco["year"]), "typed", datatype="xsd:gYear")
    add("modified", record.get("updated_at"), "typed", datatype="xsd:dateTime")
    rights = record.get("rights") or {}
    add("rights", rights.get("statement"), "uri")
    licence = rights.get("licence")
    if isinstance(licence, str) and licence.startswith(("http://", "https://")):
        add("license", licence, "uri")
    else:
        add("license", licence)
    add("rightsHolder", _lm(rights.get("holder")))
    add("publisher", PROVIDER_LABEL)
    # the manifest and its collections, once it exists: published with a canvas (ADR 0067)
    published = record.get("state") == "published" and record.get("has_manifest", True)
    if published:
        for name in collections_of(record):
            add("isPartOf", collection_url(base, name), "uri")
        add("hasFormat", manifest_url(base, record_id), "uri")
    for relation in record.get("relations") or []:
        if isinstance(relation, dict) and relation.get("target"):
            add("relation", record_page_url(base, str(relation["target"])), "uri")
    for other in record.get("referenced_by") or []:
        if isinstance(other, dict) and other.get("id"):
            add("isReferencedBy", record_page_url(base, str(other["id"])), "uri")
    for source in record.get("sources") or []:
        if isinstance(source, dict):
            citation = str(source.get("citation") or "")
            url = source.get("url")
            add("source", f"{citation} <{url}>" if url and citation else citation or url)
    return pairs


def _jsonld_value(value: Value) -> Any:
    if value.kind == "uri":
        return {"@id": value.text}
    if value.kind == "typed":
        return {"@value": value.text, "@type": value.datatype}
    if isinstance(value.text, dict):
        tagged = [{"@value": v, "@language": k} for k, v in value.text.items()]
        if value.kind != "place":
            return tagged
        node: dict[str, Any] = {"@type": "dcterms:Location", "dcterms:title": tagged}
        node["geo:lat"] = {"@value": str(value.lat), "@type": "xsd:decimal"}
        node["geo:long"] = {"@value": str(value.lon), "@type": "xsd:decimal"}
        return node
    return value.text


def jsonld(record: dict[str, Any], base: str, labels: Labels) -> dict[str, Any]:
    """The record as a JSON-LD node of DCMI terms (language-tagged texts, typed dates)."""
    cls = CLASSES.get(str(record.get("heritage_class")))
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": record_page_url(base, str(record["id"])),
        "@type": f"dcmitype:{cls[0]}" if cls else "dcterms:BibliographicResource",
    }
    for term, value in dc_pairs(record, base, labels):
        rendered = _jsonld_value(value)
        values = doc.setdefault(f"dcterms:{term}", [])
        values.extend(rendered if isinstance(rendered, list) else [rendered])
    return doc


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


def dublin_core_xml(record: dict[str, Any], base: str, labels: Labels) -> bytes:
    """The record as an OAI-PMH ``oai_dc`` document (UTF-8, ``xml:lang`` on texts)."""
    root = ET.Element(
        f"{{{OAI_DC}}}dc",
        {f"{{{XSI}}}schemaLocation": f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"},
    )

    def element(name: str, text: str, lang: str | None = None) -> None:
        child = ET.SubElement(root, f"{{{DC}}}{name}")
        child.text = _xml_text(text)
        if lang is not None:
            child.set(f"{{{XML_NS}}}lang", lang)

    for term, value in dc_pairs(record, base, labels):
        name = DC_ELEMENT[term]
        if isinstance(value.text, dict):
            for lang, text in value.text.items():
                element(name, text, lang)
        else:
            element(name, value.text)
        if value.kind == "place":  # the DCMI Point encoding of the coordinates
            element(name, f"east={value.lon}; north={value.lat}; projection=WGS84")
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


class VocabularyLabels:
    """Vocabulary labels asked of the catalogue once per scheme and kept ``LABEL_SECONDS``;
    a code without a label is shown as it is."""

    def __init__(self, seconds: float = LABEL_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._schemes: dict[str, tuple[float, dict[str, LangMap]]] = {}

    def lookup(self, catalogue: ServiceClient) -> Labels:
        def label(scheme: str, code: str) -> LangMap | None:
            return self.terms(catalogue, scheme).get(code)

        return label

    def terms(self, catalogue: ServiceClient, scheme: str) -> dict[str, LangMap]:
        now = time.monotonic()
        with self._lock:
            kept = self._schemes.get(scheme)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            answer = catalogue.call("get_vocabulary", scheme, timeout=LABEL_TIMEOUT)
        except Exception:  # noqa: BLE001 - no labels (unknown scheme, catalogue busy): codes
            terms: dict[str, LangMap] = {}
        else:
            terms = {
                str(t["code"]): lm
                for t in answer.get("terms", [])
                if (lm := _lm(t.get("labels"))) is not None
            }
        with self._lock:
            self._schemes[scheme] = (now + (self.seconds if terms else 10.0), terms)
        return terms


_LABELS = VocabularyLabels()
EXAMPLE_BASE = "https://disan.example"


_EXAMPLE_TERMS = {
    ("heritage_type", "historic_site"): {"vi": "Di tích lịch sử", "en": "Historic site"},
    ("district", "thuy_nguyen"): {"vi": "huyện Thủy Nguyên", "en": "Thủy Nguyên district"},
    ("province", "hai_phong"): {"vi": "thành phố Hải Phòng", "en": "Hải Phòng city"},
}


def _example_labels(scheme: str, code: str) -> LangMap | None:
    return _EXAMPLE_TERMS.get((scheme, code))


EXAMPLE_RECORD = RECORD_RESPONSE | {"state": "published", "version": 3, "referenced_by": []}
LINKED_DATA_EXAMPLES: dict[str, dict[str, Any]] = {
    "record_jsonld": {
        "response": jsonld(EXAMPLE_RECORD, EXAMPLE_BASE, _example_labels),
        "response_type": JSONLD_TYPE,
    },
    "record_dublin_core": {
        "response": dublin_core_xml(EXAMPLE_RECORD, EXAMPLE_BASE, _example_labels).decode(),
        "response_type": "application/xml",
    },
}


class JsonLdResponse(Schema):
    """The JSON-LD document for the OpenAPI description: a node whose other keys are
    ``dcterms:…`` terms, each a list of values (``@value``+``@language``, ``@id``, …)."""

    class Meta:
        unknown = INCLUDE

    context = fields.Dict(data_key="@context", required=True)
    id = fields.String(data_key="@id", required=True, metadata={"description": "the record"})
    type = fields.String(data_key="@type", required=True, metadata={"example": "dcmitype:Text"})


class LinkedDataRoutes:
    """``/api/v1/records/{id}/jsonld`` and ``/api/v1/records/{id}/dc.xml`` (the seeAlso of the
    record's IIIF manifest), under the record's access rules."""

    catalogue: ServiceClient  # RecordRoutes
    iiif: ServiceClient  # PresentationRoutes
    gate: Any
    settings: Any
    openapi_examples = LINKED_DATA_EXAMPLES

    def _readable_record(self, request: ApiRequest, record_id: str) -> dict[str, Any]:
        """The record as ``GET /api/v1/records/{id}`` reads it: same 401/403/404."""
        record: dict[str, Any] = self.catalogue.call(
            "get_record", request.principal.to_dict(), record_id
        )
        self.gate.require_item(request, "record", record["id"])
        if record.get("state") == "published":
            record["has_manifest"] = bool(self.iiif.call("has_manifest", record["id"]))
        return record

    def _headers(self, record: dict[str, Any]) -> dict[str, str]:
        return {"ETag": f'"{record["version"]}"'} | SAFE

    @property
    def _base(self) -> str:
        return str(self.settings.public_url).rstrip("/")

    @api(
        "GET",
        "/api/v1/records/<record_id>/jsonld",
        summary=(
            "One record as JSON-LD with Dublin Core terms (DCMI Metadata Terms; vi/en texts), "
            "under the record's access rules"
        ),
        tags=("records", "linked data"),
        roles=(PUBLIC,),
        headers=CORS,
        response_schema=JsonLdResponse,
        responses=READ_ERRORS,
    )
    def record_jsonld(self, request: ApiRequest, record_id: str) -> Any:
        record = self._readable_record(request, record_id)
        doc = jsonld(record, self._base, _LABELS.lookup(self.catalogue))
        return json_response(doc, headers=self._headers(record), content_type=JSONLD_TYPE)

    @api(
        "GET",
        "/api/v1/records/<record_id>/dc.xml",
        summary=(
            "One record as Dublin Core XML (OAI-PMH oai_dc; xml:lang vi/en), under the "
            "record's access rules"
        ),
        tags=("records", "linked data"),
        roles=(PUBLIC,),
        headers=CORS,
        responses=READ_ERRORS,
    )
    def record_dublin_core(self, request: ApiRequest, record_id: str) -> Any:
        record = self._readable_record(request, record_id)
        body = dublin_core_xml(record, self._base, _LABELS.lookup(self.catalogue))
        response = Response(body, status=200, content_type=XML_TYPE)
        response.headers.update(self._headers(record))
        return response
