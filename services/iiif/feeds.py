"""The projection's feeds: catalogue and media events, completed by asking their producers.

Catalogue events carry ids, version and state but not the record: the handler asks the catalogue
(``get_record`` as the system principal) for the current document. ``media.derivative_ready``
carries an image's size but not a PDF's page sizes, an asset's position or its metadata: the
handler asks the media service (``get_asset``). An unreachable producer fails the handler, which
is retried with backoff by ``reliable_handler``.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import RemoteError

from services.iiif import repository as repo
from shared.db import DbSession
from shared.errors import NotFound
from shared.events import Event
from shared.rpc_client import ServiceClient, ServiceRpc

# vocabularies whose labels manifests and collections show (asked once, then on unknown codes)
SCHEMES = (
    "rank",
    "district",
    "province",
    "unesco_list",
    "heritage_type",
    "intangible_domain",
    "material",
    "period",
    "script",
    "commune_current",
)
SYSTEM = {"kind": "user", "id": "system", "name": "iiif", "roles": ["admin"], "scopes": []}


class CatalogueRpc(ServiceRpc):
    """RPC to the catalogue (config ``DISAN_CATALOGUE_SERVICE`` renames it in tests)."""


class MediaRpc(ServiceRpc):
    """RPC to the media service (config ``DISAN_MEDIA_SERVICE`` renames it in tests)."""


def _fetch(client: ServiceClient, method: str, *args: Any) -> dict[str, Any] | None:
    """The answer, or None when the producer says the thing does not exist (any more)."""
    try:
        result: dict[str, Any] = client.call(method, *args)
    except NotFound:
        return None
    except RemoteError as exc:
        if exc.exc_type == "NotFound":
            return None
        raise
    return result


def apply_record_event(db: DbSession, catalogue: ServiceClient, event: Event) -> None:
    data = event.data
    record_id = str(data["record_id"])
    if event.type == "catalogue.record_deleted":
        repo.apply_record(
            db,
            record_id,
            str(data["state"]),
            int(data["version"]) + 1,
            str(data["heritage_class"]),
            None,
            True,
            event.occurred_at,
        )
        return
    record = _fetch(catalogue, "get_record", SYSTEM, record_id)
    if record is None:  # deleted since: its own event follows (or came first)
        return
    doc = {k: v for k, v in record.items() if k not in ("created_by", "updated_by", "access")}
    ensure_labels(db, catalogue, doc)
    repo.apply_record(
        db,
        record_id,
        str(record["state"]),
        int(record["version"]),
        str(record["heritage_class"]),
        doc,
        False,
        event.occurred_at,
    )


def apply_asset_event(db: DbSession, media: ServiceClient, event: Event) -> None:
    data = event.data
    asset_id, record_id, at = str(data["asset_id"]), str(data["record_id"]), event.occurred_at
    kind = event.type.removeprefix("media.")
    if kind == "asset_deleted":
        repo.apply_asset(db, asset_id, record_id, at, status="deleted")
        return
    if kind == "asset_failed":
        repo.apply_asset(db, asset_id, record_id, at, status="failed")
        return
    if kind == "asset_ingested":
        repo.apply_asset(
            db,
            asset_id,
            record_id,
            at,
            kind=str(data["kind"]),
            format=str(data["format"]),
            version=int(data.get("version") or 1),
        )
        return
    # derivative_ready / asset_replaced: the media service tells the whole current state
    asset = _fetch(media, "get_asset", asset_id)
    if asset is None:
        repo.apply_asset(db, asset_id, record_id, at, status="deleted")
        return
    technical = asset.get("technical") or {}
    status = {"ready": "ready", "failed": "failed"}.get(str(asset.get("status")), "ingested")
    if asset.get("deleted_at"):
        status = "deleted"
    repo.apply_asset(
        db,
        asset_id,
        record_id,
        at,
        kind=str(asset.get("kind") or data.get("kind") or "unknown"),
        format=asset.get("format"),
        mime_type=asset.get("mime_type"),
        position=int(asset.get("position") or 0),
        metadata=asset.get("metadata") or {},
        status=status,
        width=asset.get("width") or data.get("width"),
        height=asset.get("height") or data.get("height"),
        duration=technical.get("duration") or data.get("duration"),
        pages=technical.get("page_sizes"),
        version=int(asset.get("version") or 1),
    )


def apply_order_event(db: DbSession, media: ServiceClient, event: Event) -> None:
    """``media.assets_reordered``: the positions as the media service has them now (asked, so
    a late or redelivered event never brings back an older order)."""
    listed: list[dict[str, Any]] = media.call("list_assets", str(event.data["record_id"]))
    repo.set_positions(db, {str(a["asset_id"]): int(a.get("position") or 0) for a in listed})


def _codes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """The (scheme, code) pairs of a record that manifests and collections label."""
    address = doc.get("address") or {}
    found = {
        ("rank", (doc.get("rank") or {}).get("level")),
        ("unesco_list", (doc.get("unesco") or {}).get("list")),
        ("heritage_type", doc.get("heritage_type")),
        ("intangible_domain", (doc.get("intangible") or {}).get("domain")),
        ("district", address.get("district_pre2025")),
        ("province", address.get("province_pre2025")),
        ("province", address.get("province_current")),
        ("commune_current", (address.get("commune_current") or {}).get("code")),
        ("period", (doc.get("museum_object") or {}).get("period")),
    }
    found |= {("period", p) for p in doc.get("periods") or []}
    found |= {("material", m) for m in (doc.get("museum_object") or {}).get("materials") or []}
    found |= {("script", s) for s in (doc.get("documentary") or {}).get("scripts") or []}
    return {(scheme, str(code)) for scheme, code in found if code}


def ensure_labels(db: DbSession, catalogue: ServiceClient, doc: dict[str, Any]) -> None:
    """Ask the catalogue for the vocabularies whose codes this record uses and we lack."""
    known = repo.labels(db)
    missing = {scheme for scheme, code in _codes(doc) if (scheme, code) not in known}
    for scheme in sorted(missing & set(SCHEMES)):
        vocabulary = _fetch(catalogue, "get_vocabulary", scheme)
        if vocabulary is not None:
            repo.put_labels(db, scheme, list(vocabulary.get("terms") or []))
