"""Disan's IIIF surface as data: where its resources live (URLs) and which collections a
record is in (names). No I/O.

Shared because two services use it: the iiif service builds documents with these URLs and
names, and the gateway links to them (linked data, collection redirects) without importing
the iiif service (issue #16).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

PROVIDER_LABEL = {
    "vi": "Nền tảng di sản số Hải Phòng (Disan)",
    "en": "Hải Phòng digital heritage platform (Disan)",
}

# collection names: one style, lower case words joined by hyphens (ADR 0067)
_NAME = re.compile(
    r"^(all|unesco|ranks|districts|communes"
    r"|(class|rank|district|commune|unesco)-[a-z0-9]+(-[a-z0-9]+)*)$"
)
MAX_NAME = 100
#: the tree partners browse: each kind of collection under its group, each group under ``all``
GROUP_OF_KIND = {
    "class": "all",
    "rank": "ranks",
    "district": "districts",
    "commune": "communes",
    "unesco": "unesco",
}
GROUPS = ("ranks", "districts", "communes", "unesco")


# URLs -----------------------------------------------------------------------------------------


def manifest_url(base: str, record_id: str) -> str:
    return f"{base}/iiif/presentation/3/records/{record_id}/manifest"


def canvas_url(base: str, record_id: str, asset_id: str, page: int = 0) -> str:
    suffix = f"/p{page}" if page else ""
    return f"{base}/iiif/presentation/3/records/{record_id}/canvas/{asset_id}{suffix}"


def record_page_url(base: str, record_id: str) -> str:
    """The record's URI: the linked-data documents' subject, a link that answers (the record in
    the API, under its access rules). The portal has no page per record yet, so manifests carry
    no ``homepage`` (ADR 0067): no manifest may link to a page that answers 404."""
    return f"{base}/api/v1/records/{record_id}"


def record_jsonld_url(base: str, record_id: str) -> str:
    """The record as JSON-LD with Dublin Core terms (services/gateway/linked_data.py)."""
    return f"{base}/api/v1/records/{record_id}/jsonld"


def record_dc_xml_url(base: str, record_id: str) -> str:
    """The record as Dublin Core XML, OAI-PMH ``oai_dc`` (services/gateway/linked_data.py)."""
    return f"{base}/api/v1/records/{record_id}/dc.xml"


def collection_url(base: str, name: str, page: int | None = None) -> str:
    url = f"{base}/iiif/presentation/3/collections/{name}"
    return f"{url}/page/{page}" if page is not None else url


def changes_url(base: str) -> str:
    return f"{base}/iiif/discovery/1/all-changes"


def image_service(base: str, asset_id: str, version: int = 3) -> str:
    return f"{base}/iiif/image/{version}/{asset_id}"


def content_url(base: str, asset_id: str, name: str) -> str:
    """Where the gateway hands out an asset's file (master or derivative)."""
    return f"{base}/iiif/content/{asset_id}/{name}"


# collections ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case ASCII slug without diacritics: ``Thủy Nguyên`` → ``thuy-nguyen``."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:96]


def slug(code: Any) -> str:
    """A code as a collection name part: ``le_chan`` → ``le-chan`` (one style for all names)."""
    return fold(str(code))


def collections_of(doc: dict[str, Any]) -> list[str]:
    """The collections that list the record's manifest (its ``partOf``)."""
    names = ["all", f"class-{slug(doc['heritage_class'])}"]
    rank = (doc.get("rank") or {}).get("level")
    if rank:
        names.append(f"rank-{slug(rank)}")
    address = doc.get("address") or {}
    if address.get("district_pre2025"):
        names.append(f"district-{slug(address['district_pre2025'])}")
    commune = address.get("commune_current") or {}
    if isinstance(commune, dict):  # a term reference {"code", "vi", "en"} (ADR 0043)
        code = slug(commune.get("code") or "") or fold(str(commune.get("vi") or ""))
        if code:
            names.append(f"commune-{code}")
    unesco = doc.get("unesco") or {}
    if unesco.get("list"):
        names += ["unesco", f"unesco-{slug(unesco['list'])}"]
    return [n for n in names if valid_collection_name(n)]


def memberships(doc: dict[str, Any]) -> list[str]:
    """Every collection the record is in, the groups above its collections too (``ranks``...):
    what the manifest row keeps, so a group exists while one of its collections does."""
    names = collections_of(doc)
    groups = {parent_of(n) for n in names} - {None, "all"}
    return names + sorted(g for g in groups if g is not None and g not in names)


def parent_of(name: str) -> str | None:
    """The collection above ``name`` in the tree (``None`` for ``all``)."""
    if name == "all":
        return None
    if name in GROUPS:
        return "all"
    return GROUP_OF_KIND.get(name.partition("-")[0], "all")


def children_of(name: str, present: list[str]) -> list[str]:
    """The collections listed inside ``name`` among those that exist, classes and groups first
    under ``all``, then by name."""
    kids = [n for n in present if n != name and parent_of(n) == name]
    return sorted(kids, key=lambda n: (n in GROUPS, GROUPS.index(n) if n in GROUPS else 0, n))


def canonical_name(name: str) -> str | None:
    """The name a collection has now, for one it had before (``district-le_chan`` →
    ``district-le-chan``); None when ``name`` is neither."""
    if len(name) > MAX_NAME:
        return None
    new = name.replace("_", "-").replace(".", "-")
    return new if valid_collection_name(new) else None


def valid_collection_name(name: str) -> bool:
    return len(name) <= MAX_NAME and bool(_NAME.match(name))
