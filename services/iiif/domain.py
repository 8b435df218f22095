"""From a catalogue record and its assets to Presentation specs; collections. No I/O.

URLs and collection names live in ``shared.iiif_surface`` (the gateway links with them too)
and are re-exported here.

The catalogue's record document (language maps, class blocks, address with old and new
administrative names, rights) and the media projection (kind, size, pages, duration) become an
``iiif.presentation.ManifestSpec``; which collections a record belongs to is decided here too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from iiif.annotations import pages_of_canvas
from iiif.presentation import (
    BodySpec,
    CanvasSpec,
    CollectionSpec,
    ManifestSpec,
    MemberSpec,
    PlaceSpec,
    RangeSpec,
)
from iiif.presentation.spec import LangMap, Link, ProviderSpec
from shared.iiif_surface import GROUP_OF_KIND as GROUP_OF_KIND
from shared.iiif_surface import GROUPS as GROUPS
from shared.iiif_surface import MAX_NAME as MAX_NAME
from shared.iiif_surface import PROVIDER_LABEL as PROVIDER_LABEL
from shared.iiif_surface import canonical_name as canonical_name
from shared.iiif_surface import canvas_url as canvas_url
from shared.iiif_surface import changes_url as changes_url
from shared.iiif_surface import children_of as children_of
from shared.iiif_surface import collection_url as collection_url
from shared.iiif_surface import collections_of as collections_of
from shared.iiif_surface import content_url as content_url
from shared.iiif_surface import fold as fold
from shared.iiif_surface import image_service as image_service
from shared.iiif_surface import manifest_url as manifest_url
from shared.iiif_surface import memberships as memberships
from shared.iiif_surface import parent_of as parent_of
from shared.iiif_surface import record_dc_xml_url as record_dc_xml_url
from shared.iiif_surface import record_jsonld_url as record_jsonld_url
from shared.iiif_surface import record_page_url as record_page_url
from shared.iiif_surface import slug as slug
from shared.iiif_surface import valid_collection_name as valid_collection_name

OPEN = "public"
COLLECTION_PAGE = 1000
THUMBNAIL_WIDTH = 400

CLASS_LABELS: dict[str, LangMap] = {
    "tangible_site": {"vi": "Di tích", "en": "Heritage sites"},
    "intangible": {"vi": "Di sản văn hóa phi vật thể", "en": "Intangible cultural heritage"},
    "museum_object": {"vi": "Hiện vật bảo tàng", "en": "Museum objects"},
    "documentary": {"vi": "Di sản tư liệu", "en": "Documentary heritage"},
}
ATTRIBUTION = {"vi": "Ghi công", "en": "Attribution"}
# seeAlso profiles (ADR 0066): the vocabulary of the JSON-LD, the metadata format of the XML
DCTERMS_PROFILE = "http://purl.org/dc/terms/"
OAI_DC_PROFILE = "http://www.openarchives.org/OAI/2.0/oai_dc/"
BODY_TYPES = {
    "image": "Image",
    "audio": "Sound",
    "video": "Video",
    "model": "Model",
    "pdf": "Image",
}
GROUP_LABELS: dict[str, LangMap] = {
    "ranks": {"vi": "Theo cấp xếp hạng", "en": "By rank"},
    "districts": {
        "vi": "Theo quận/huyện (trước 2025)",
        "en": "By district (before 2025)",
    },
    "communes": {"vi": "Theo xã/phường (từ 2025)", "en": "By commune (since 2025)"},
}
_RIGHTS = re.compile(
    r"^https?://(creativecommons\.org/(licenses|publicdomain)/|rightsstatements\.org/vocab/)"
)

Labels = dict[tuple[str, str], dict[str, str]]
Probe = Callable[[str, str], dict[str, Any] | None]


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


# access ---------------------------------------------------------------------------------------


def effective_level(policy: dict[str, Any] | None, now: datetime | None = None) -> str:
    """The policy level now (an embargo that has ended is public), public without a policy."""
    if policy is None:
        return OPEN
    level = str(policy["level"])
    until = policy.get("embargo_until")
    if level == "embargoed" and until is not None and (now or datetime.now(UTC)) >= until:
        return OPEN
    return level


# collections ----------------------------------------------------------------------------------


def _term(labels: Labels, scheme: str, code: str) -> LangMap:
    found = labels.get((scheme, code)) or labels.get((scheme, code.replace("-", "_")))
    return dict(found) if found else {"vi": code, "en": code}


def collection_label(name: str, labels: Labels) -> LangMap:
    if name == "all":
        return {"vi": "Tất cả di sản Hải Phòng", "en": "All heritage of Hải Phòng"}
    if name == "unesco":
        return {"vi": "Di sản được UNESCO ghi danh", "en": "Heritage inscribed by UNESCO"}
    if name in GROUP_LABELS:
        return dict(GROUP_LABELS[name])
    kind, _, code = name.partition("-")
    if kind == "class":
        return CLASS_LABELS.get(code.replace("-", "_"), {"vi": code, "en": code})
    if kind == "rank":
        return _term(labels, "rank", code)
    if kind == "unesco":
        term = _term(labels, "unesco_list", code)
        return {k: f"UNESCO: {v}" for k, v in term.items()}
    if kind == "district":
        term = _term(labels, "district", code)
        return {
            "vi": f"{term.get('vi', code)} (quận/huyện trước 2025)",
            "en": f"{term.get('en', term.get('vi', code))} (district before 2025)",
        }
    current = labels.get(("commune_current", code.replace("-", "_")))
    shown = (current or {}).get("vi") or code
    return {"vi": f"{shown} (xã/phường từ 2025)", "en": f"{shown} (commune since 2025)"}


def provider(base: str) -> ProviderSpec:
    """Disan as the provider. No ``homepage`` while the platform serves no web page at its
    root (ADR 0067: no link that answers 404); the id names the platform, it is not a link."""
    return ProviderSpec(id=f"{base}/", label=PROVIDER_LABEL)


def collection_spec(
    base: str,
    name: str,
    labels: Labels,
    members: list[dict[str, Any]],
    page: int | None,
    pages: int,
    children: list[str] | None = None,
) -> CollectionSpec:
    """The collection itself (one page of it when ``page`` is given): the collections under it
    in the tree first, then its manifests."""
    label = collection_label(name, labels)
    items = _child_refs(base, labels, children) + tuple(
        MemberSpec(
            id=manifest_url(base, str(m["record_id"])), type="Manifest", label=dict(m["label"])
        )
        for m in members
    )
    part_of: tuple[Link, ...] = ()
    if page is not None:
        part_of = (Link(id=collection_url(base, name), type="Collection", label=label),)
        label = {k: f"{v} ({page}/{pages})" for k, v in label.items()}
    else:
        part_of = _parent_link(base, name, labels)
    return CollectionSpec(
        id=collection_url(base, name, page),
        label=label,
        items=items,
        part_of=part_of,
        provider=provider(base),
    )


def _child_refs(base: str, labels: Labels, children: list[str] | None) -> tuple[MemberSpec, ...]:
    return tuple(
        MemberSpec(id=collection_url(base, c), type="Collection", label=collection_label(c, labels))
        for c in children or []
    )


def _parent_link(base: str, name: str, labels: Labels) -> tuple[Link, ...]:
    """``partOf`` of a collection: the one above it in the tree (none for ``all``)."""
    parent = parent_of(name)
    if parent is None:
        return ()
    return (
        Link(
            id=collection_url(base, parent),
            type="Collection",
            label=collection_label(parent, labels),
        ),
    )


def paged_collection_spec(
    base: str,
    name: str,
    labels: Labels,
    total: int,
    pages: int,
    children: list[str] | None = None,
) -> CollectionSpec:
    """A large collection: the collections under it, then its pages, each a collection of
    manifests."""
    label = collection_label(name, labels)
    items = _child_refs(base, labels, children) + tuple(
        MemberSpec(
            id=collection_url(base, name, n),
            type="Collection",
            label={k: f"{v} ({n}/{pages})" for k, v in label.items()},
        )
        for n in range(1, pages + 1)
    )
    summary = {"vi": f"{total} hồ sơ, {pages} trang", "en": f"{total} records in {pages} pages"}
    return CollectionSpec(
        id=collection_url(base, name),
        label=label,
        summary=summary,
        items=items,
        part_of=_parent_link(base, name, labels),
        provider=provider(base),
    )


# activities -----------------------------------------------------------------------------------


def activities_for_change(
    base: str, old: dict[str, Any] | None, new: Built
) -> list[tuple[str, str, str]]:
    """Create or Update of the manifest, then Update of each collection whose list changed."""
    url = manifest_url(base, new.record_id)
    acts = [("Create" if old is None else "Update", url, "Manifest")]
    before = set(old["collections"]) if old is not None else set()
    label_changed = old is not None and dict(old["label"]) != new.label
    touched = before ^ set(new.collections)
    if label_changed:
        touched |= set(new.collections)
    for name in sorted(touched):
        acts.append(("Update", collection_url(base, name), "Collection"))
    return acts


# manifests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    base: str
    record: dict[str, Any]
    assets: list[dict[str, Any]]
    level: str
    labels: Labels
    annotation_pages: list[str] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Built:
    record_id: str
    body: str
    etag: str
    public: bool
    heritage_class: str
    collections: list[str]
    title_sort: str
    label: dict[str, str]
    canvases: list[dict[str, Any]]
    version: int

    def stored(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "body": self.body,
            "etag": self.etag,
            "public": self.public,
            "heritage_class": self.heritage_class,
            "collections": self.collections,
            "title_sort": self.title_sort,
            "label": self.label,
        }


def title_sort(doc: dict[str, Any]) -> str:
    return fold(str(doc["title"].get("vi", "")))[:200]


def _lm(value: Any) -> LangMap | None:
    if isinstance(value, dict):
        out = {
            k: v for k, v in value.items() if k in ("vi", "en") and isinstance(v, str) and v.strip()
        }
        return out or None
    if isinstance(value, str) and value.strip():
        return {"vi": value, "en": value}
    return None


def _join(parts: list[LangMap]) -> LangMap | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    return {lang: "; ".join(p.get(lang) or p.get("vi", "") for p in parts) for lang in ("vi", "en")}


def _decision(decision: dict[str, Any] | None) -> str:
    if not decision:
        return ""
    bits = [decision.get("number") or "", decision.get("date") or ""]
    return ", ".join(b for b in bits if b)


def metadata_pairs(doc: dict[str, Any], labels: Labels) -> list[tuple[LangMap, LangMap]]:
    """Label/value pairs shown by viewers, Vietnamese first."""
    pairs: list[tuple[LangMap, LangMap | None]] = []

    def add(vi: str, en: str, value: LangMap | None) -> None:
        if value:
            pairs.append(({"vi": vi, "en": en}, value))

    add("Số kiểm kê", "Inventory number", _lm(doc.get("inventory_number")))
    add("Loại hình", "Heritage class", CLASS_LABELS.get(doc["heritage_class"]))
    if doc.get("heritage_type"):
        add("Kiểu di sản", "Heritage type", _term(labels, "heritage_type", doc["heritage_type"]))
    rank = doc.get("rank") or {}
    if rank.get("level"):
        term = _term(labels, "rank", rank["level"])
        decision = _decision(rank.get("decision"))
        if decision:
            term = {k: f"{v} ({decision})" for k, v in term.items()}
        add("Xếp hạng", "Rank", term)
    treasure = doc.get("national_treasure") or {}
    if treasure:
        add(
            "Bảo vật quốc gia",
            "National treasure",
            {
                "vi": _decision(treasure.get("decision")) or "có",
                "en": _decision(treasure.get("decision")) or "yes",
            },
        )
    unesco = doc.get("unesco") or {}
    if unesco.get("list"):
        term = _term(labels, "unesco_list", unesco["list"])
        add("UNESCO", "UNESCO", {k: f"{v} ({unesco.get('year')})" for k, v in term.items()})
    intangible = doc.get("intangible") or {}
    if intangible.get("domain"):
        add(
            "Loại hình phi vật thể",
            "Domain",
            _term(labels, "intangible_domain", intangible["domain"]),
        )
        add(
            "Cộng đồng chủ thể",
            "Practising communities",
            _join([_lm(c) or {} for c in intangible.get("communities") or []]),
        )
    museum = doc.get("museum_object") or {}
    if museum:
        add("Nơi lưu giữ", "Holding institution", _lm(museum.get("holding_institution")))
        add("Số đăng ký", "Accession number", _lm(museum.get("accession_number")))
        add(
            "Chất liệu",
            "Materials",
            _join([_term(labels, "material", m) for m in museum.get("materials") or []]),
        )
        add("Niên đại", "Dating", _lm(museum.get("dating")))
    documentary = doc.get("documentary") or {}
    if documentary:
        add("Quy mô", "Extent", _lm(documentary.get("extent")))
        add(
            "Văn tự",
            "Script",
            _join([_term(labels, "script", s) for s in documentary.get("scripts") or []]),
        )
        add("Nơi lưu giữ", "Custodian", _lm(documentary.get("custodian")))
    add("Thời kỳ", "Periods", _join([_term(labels, "period", p) for p in doc.get("periods") or []]))
    address = doc.get("address") or {}
    current = [
        _lm(address.get("street")),
        _lm(address.get("commune_current")),
        _term(labels, "province", address["province_current"])
        if address.get("province_current")
        else None,
    ]
    add("Địa chỉ", "Address", _join([c for c in current if c]))
    before = [
        _lm(address.get("commune_pre2025")),
        _term(labels, "district", address["district_pre2025"])
        if address.get("district_pre2025")
        else None,
        _term(labels, "province", address["province_pre2025"])
        if address.get("province_pre2025")
        else None,
    ]
    add("Địa chỉ trước 2025", "Address before the 2025 reform", _join([b for b in before if b]))
    add("Chủ đề", "Subjects", _join([_lm(s) or {} for s in doc.get("subjects") or []]))
    return [(k, v) for k, v in pairs if v]


def rights_uri(doc: dict[str, Any]) -> str | None:
    """The record's rights statement or licence as the http URI IIIF requires, if it is one."""
    rights = doc.get("rights") or {}
    for candidate in (rights.get("statement"), rights.get("licence")):
        if isinstance(candidate, str) and _RIGHTS.match(candidate):
            uri = "http://" + candidate.split("://", 1)[1]
            return uri if uri.endswith("/") else uri + "/"
    return None


def _thumb(
    base: str, asset: dict[str, Any], probe: dict[str, Any] | None = None
) -> BodySpec | None:
    """The asset's thumbnail; a restricted one carries its probe service (Auth 2.0)."""
    extra = (probe,) if probe else ()
    if asset["kind"] == "image" and asset.get("width") and asset.get("height"):
        width = min(THUMBNAIL_WIDTH, int(asset["width"]))
        height = max(1, round(int(asset["height"]) * width / int(asset["width"])))
        return BodySpec(
            id=f"{image_service(base, str(asset['asset_id']))}/full/{width},/0/default.jpg",
            type="Image",
            format="image/jpeg",
            width=width,
            height=height,
            image_service3=image_service(base, str(asset["asset_id"])),
            extra_services=extra,
        )
    if asset["kind"] in ("pdf", "video"):
        name = "thumbnail.jpg" if asset["kind"] == "pdf" else "poster.jpg"
        return BodySpec(
            id=content_url(base, str(asset["asset_id"]), name),
            type="Image",
            format="image/jpeg",
            extra_services=extra,
        )
    return None


def _asset_label(asset: dict[str, Any], number: int) -> LangMap:
    """The caption given at upload (media's ``caption``), else a numbered default."""
    meta = asset.get("metadata") or {}
    label = _lm(meta.get("caption")) or _lm(meta.get("label")) or _lm(meta.get("title"))
    return label or {
        "vi": f"Ảnh {number}" if asset["kind"] == "image" else f"Tệp {number}",
        "en": f"Item {number}",
    }


@dataclass(frozen=True)
class ItemInfo:
    """What the uploader said of one asset that the canvas shows besides its label."""

    metadata: tuple[tuple[LangMap, LangMap], ...] = ()
    rights: str | None = None
    required_statement: tuple[LangMap, LangMap] | None = None


def item_info(asset: dict[str, Any], record: dict[str, Any]) -> ItemInfo:
    """Creator, date and rights given at upload, as canvas metadata; ``rights`` and
    ``requiredStatement`` only where they differ from the record's (a viewer shows the
    manifest's otherwise)."""
    meta = asset.get("metadata") or {}
    pairs: list[tuple[LangMap, LangMap]] = []
    creator = _lm(meta.get("creator"))
    if creator:
        pairs.append(({"vi": "Tác giả", "en": "Creator"}, creator))
    date = _lm(meta.get("date"))
    if date:
        pairs.append(({"vi": "Ngày", "en": "Date"}, date))
    own = rights_uri({"rights": {"statement": meta.get("rights_statement"),
                                 "licence": meta.get("licence")}})  # fmt: skip
    for key in ("rights_statement", "licence"):
        text = _lm(meta.get(key))
        if text and not _RIGHTS.match(text["vi"]):
            pairs.append(({"vi": "Quyền", "en": "Rights"}, text))
    holder = _lm((record.get("rights") or {}).get("holder")) or PROVIDER_LABEL
    required = (ATTRIBUTION, creator) if creator and creator != holder else None
    return ItemInfo(
        metadata=tuple(pairs),
        rights=own if own is not None and own != rights_uri(record) else None,
        required_statement=required,
    )


def _with_info(canvas: CanvasSpec, info: ItemInfo) -> CanvasSpec:
    return replace(
        canvas,
        metadata=info.metadata,
        rights=info.rights,
        required_statement=info.required_statement,
    )


def _canvases_of_asset(
    base: str, record_id: str, asset: dict[str, Any], number: int, probe: dict[str, Any] | None
) -> list[CanvasSpec]:
    aid = str(asset["asset_id"])
    kind = asset["kind"]
    extra = (probe,) if probe else ()
    label = _asset_label(asset, number)
    if kind == "image":
        if not asset.get("width") or not asset.get("height"):
            return []
        w, h = int(asset["width"]), int(asset["height"])
        body = BodySpec(
            id=f"{image_service(base, aid)}/full/max/0/default.jpg",
            type="Image",
            format="image/jpeg",
            width=w,
            height=h,
            image_service3=image_service(base, aid, 3),
            image_service2=image_service(base, aid, 2),
            extra_services=extra,
        )
        return [
            CanvasSpec(
                id=canvas_url(base, record_id, aid),
                label=label,
                body=body,
                width=w,
                height=h,
                thumbnail=_thumb(base, asset, probe),
            )
        ]
    if kind == "pdf":
        out = []
        for page in asset.get("pages") or []:
            n, w, h = int(page["page"]), int(page["width"]), int(page["height"])
            body = BodySpec(
                id=content_url(base, aid, f"pages/{n:05d}.jpg"),
                type="Image",
                format="image/jpeg",
                width=w,
                height=h,
                extra_services=extra,
            )
            page_label = {
                k: f"{v}, tr. {n}" if k == "vi" else f"{v}, p. {n}" for k, v in label.items()
            }
            out.append(
                CanvasSpec(
                    id=canvas_url(base, record_id, aid, n),
                    label=page_label,
                    body=body,
                    width=w,
                    height=h,
                )
            )
        return out
    if kind in ("audio", "video"):
        duration = asset.get("duration")
        if not duration:
            return []
        aw, ah = asset.get("width"), asset.get("height")
        sized = kind == "video" and bool(aw) and bool(ah)
        body = BodySpec(
            id=content_url(base, aid, f"original.{asset.get('format') or 'bin'}"),
            type=BODY_TYPES[kind],
            format=str(asset.get("mime_type") or f"{kind}/{asset.get('format')}"),
            width=int(aw) if sized and aw else None,
            height=int(ah) if sized and ah else None,
            duration=float(duration),
            extra_services=extra,
        )
        return [
            CanvasSpec(
                id=canvas_url(base, record_id, aid),
                label=label,
                body=body,
                width=int(aw) if sized and aw else None,
                height=int(ah) if sized and ah else None,
                duration=float(duration),
                thumbnail=_thumb(base, asset, probe),
            )
        ]
    if kind == "model":
        body = BodySpec(
            id=content_url(base, aid, f"original.{asset.get('format') or 'glb'}"),
            type="Model",
            format=str(asset.get("mime_type") or "model/gltf-binary"),
            extra_services=extra,
        )
        # a Model canvas needs a size for viewers that place it; 3D has no pixels: 1000×1000
        return [
            CanvasSpec(
                id=canvas_url(base, record_id, aid), label=label, body=body, width=1000, height=1000
            )
        ]
    return []


def _structures(
    base: str,
    record_id: str,
    doc: dict[str, Any],
    assets: list[dict[str, Any]],
    canvases: dict[str, list[CanvasSpec]],
) -> list[RangeSpec]:
    """Sections of manuscripts: assets grouped by their ``section`` metadata, else per PDF."""
    if doc["heritage_class"] != "documentary":
        return []
    sections: dict[str, tuple[LangMap, list[str]]] = {}
    for asset in assets:
        own = canvases.get(str(asset["asset_id"]), [])
        if not own:
            continue
        section = _lm((asset.get("metadata") or {}).get("section"))
        if section is None and len(own) > 1:
            section = _asset_label(asset, len(sections) + 1)
        if section is None:
            continue
        key = section.get("vi", "")
        if key not in sections:
            sections[key] = (section, [])
        sections[key][1].extend(c.id for c in own)
    return [
        RangeSpec(
            id=f"{manifest_url(base, record_id)[: -len('/manifest')]}/range/{n}",
            label=label,
            canvases=tuple(ids),
        )
        for n, (label, ids) in enumerate(sections.values(), start=1)
    ]


def see_also(base: str, record_id: str) -> tuple[Link, ...]:
    """The record's metadata as linked data (Dublin Core in JSON-LD and in XML), then as the
    plain JSON of the API; all answer under the record's access rules, as the manifest does."""
    return (
        Link(
            id=record_jsonld_url(base, record_id),
            type="Dataset",
            label={"vi": "Hồ sơ (JSON-LD, Dublin Core)", "en": "Record (JSON-LD, Dublin Core)"},
            format="application/ld+json",
            profile=DCTERMS_PROFILE,
        ),
        Link(
            id=record_dc_xml_url(base, record_id),
            type="Dataset",
            label={"vi": "Hồ sơ (Dublin Core XML)", "en": "Record (Dublin Core XML)"},
            format="application/xml",
            profile=OAI_DC_PROFILE,
        ),
        Link(
            id=f"{base}/api/v1/records/{record_id}",
            type="Dataset",
            label={"vi": "Hồ sơ (JSON)", "en": "Record (JSON)"},
            format="application/json",
        ),
    )


def manifest_spec(inputs: Inputs, probe_of: Probe) -> tuple[ManifestSpec, list[dict[str, Any]]]:
    """The manifest of a published record, and the canvas rows to keep (id, size, asset)."""
    base, doc = inputs.base, inputs.record
    record_id = str(doc["id"])
    url = manifest_url(base, record_id)
    restricted = inputs.level != OPEN
    canvases: list[CanvasSpec] = []
    rows: list[dict[str, Any]] = []
    per_asset: dict[str, list[CanvasSpec]] = {}
    probes: dict[str, dict[str, Any] | None] = {}
    for number, asset in enumerate(inputs.assets, start=1):
        # a probe on every content resource of a restricted record, or of a restricted asset
        own_level = asset.get("level", OPEN)
        probe = probe_of(base, str(asset["asset_id"])) if restricted or own_level != OPEN else None
        probes[str(asset["asset_id"])] = probe
        info = item_info(asset, doc)
        own = [
            _with_info(c, info) for c in _canvases_of_asset(base, record_id, asset, number, probe)
        ]
        per_asset[str(asset["asset_id"])] = own
        for c in own:
            rows.append(
                {
                    "canvas_id": c.id,
                    "asset_id": str(asset["asset_id"]),
                    "page": int(c.id.rsplit("/p", 1)[1]) if asset["kind"] == "pdf" else 0,
                    "position": len(rows),
                    "width": c.width,
                    "height": c.height,
                    "duration": c.duration,
                }
            )
        canvases.extend(
            replace(c, annotations=pages_of_canvas(inputs.annotation_pages, c.id)) for c in own
        )
    thumbnail = next(
        (t for t in (_thumb(base, a, probes.get(str(a["asset_id"]))) for a in inputs.assets) if t),
        None,
    )
    location = doc.get("location")
    place = None
    if (
        isinstance(location, dict)
        and location.get("lat") is not None
        and location.get("lon") is not None
    ):
        place = PlaceSpec(
            id=f"{url[: -len('/manifest')]}/place",
            lat=float(location["lat"]),
            lon=float(location["lon"]),
            label=dict(doc["title"]),
        )
    rights = doc.get("rights") or {}
    holder = _lm(rights.get("holder")) or PROVIDER_LABEL
    rendering = tuple(
        Link(
            id=content_url(base, str(a["asset_id"]), "original.pdf"),
            type="Text",
            label=_asset_label(a, n),
            format="application/pdf",
        )
        for n, a in enumerate(inputs.assets, start=1)
        if a["kind"] == "pdf"
    )
    part_of = tuple(
        Link(id=collection_url(base, name), type="Collection") for name in collections_of(doc)
    )
    spec = ManifestSpec(
        id=url,
        label=dict(doc["title"]),
        summary=_lm(doc.get("description")),
        metadata=tuple(metadata_pairs(doc, inputs.labels)),
        required_statement=(ATTRIBUTION, holder),
        rights=rights_uri(doc),
        provider=provider(base),
        see_also=see_also(base, record_id),
        rendering=rendering,
        part_of=part_of,
        thumbnail=thumbnail,
        canvases=tuple(canvases),
        structures=tuple(_structures(base, record_id, doc, inputs.assets, per_asset)),
        place=place,
        annotations=tuple(inputs.annotation_pages),
        services=tuple(inputs.services),
        behavior=("paged",) if doc["heritage_class"] == "documentary" and len(canvases) > 1 else (),
    )
    return spec, rows
