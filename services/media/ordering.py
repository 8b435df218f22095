"""The order of a record's assets: where each upload goes, and reordering them (issue 15).

An upload without a ``position`` goes after the record's assets (the next position), so a
manuscript's pages keep the order they were uploaded in; ``set_order`` renumbers the record's
assets 0..n-1 in the order given and announces ``media.assets_reordered``, on which the iiif
service rebuilds the manifest with its canvases in that order (ADR 0067).
"""

from __future__ import annotations

import uuid
from typing import Any

from services.media import repository as repo
from shared.db import DbSession
from shared.errors import ValidationFailed
from shared.events import make_event

MAX_ASSETS = 10_000

ORDER_TEXT = {
    "vi": "Thứ tự phải liệt kê đúng một lần mỗi tệp của hồ sơ (không thiếu, không thừa).",
    "en": "The order must list every asset of the record exactly once (none missing, none extra).",
}


def _refuse(message: str, reason: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, {"reason": reason, "text": ORDER_TEXT} | details)


def asset_ids(value: Any) -> list[str]:
    """The asset ids of an order request, normalised; a 422 unless a list of distinct UUIDs."""
    if not isinstance(value, list) or not value or len(value) > MAX_ASSETS:
        raise _refuse(f"assets is a list of 1 to {MAX_ASSETS} asset ids", "invalid_order")
    out: list[str] = []
    for item in value:
        try:
            out.append(str(uuid.UUID(str(item))))
        except ValueError:
            raise _refuse(f"{str(item)[:64]!r} is not an asset id", "invalid_order") from None
    if len(set(out)) != len(out):
        raise _refuse("an asset is listed twice", "duplicate_asset")
    return out


def set_order(
    db: DbSession, record_id: str, ordered: list[str], agent: str, correlation_id: str | None
) -> list[dict[str, Any]]:
    """Renumber the record's assets in the order given (every one of them, once); the assets
    in their new order. The record's assets are locked so two reorders apply one after the
    other; an order that already holds changes nothing and announces nothing."""
    current = repo.lock_assets_of_record(db, record_id)
    known = [str(a["id"]) for a in current]
    missing, extra = sorted(set(known) - set(ordered)), sorted(set(ordered) - set(known))
    if missing or extra:
        raise _refuse(
            f"the order lists {len(ordered)} assets, the record has {len(known)}",
            "order_mismatch",
            missing=missing[:20],
            unknown=extra[:20],
        )
    positions = {asset_id: n for n, asset_id in enumerate(ordered)}
    if any(int(a["position"]) != positions[str(a["id"])] for a in current):
        repo.set_positions(db, positions)
        db.publish(
            make_event(
                "media.assets_reordered",
                {"record_id": record_id, "asset_ids": ordered},
                producer="media",
                actor=agent,
                correlation_id=correlation_id,
            )
        )
    return repo.assets_of_record(db, record_id)
