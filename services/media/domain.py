"""The media service's pure core: keys, preservation events; formats, limits and refusals
are ``shared.media.formats`` (the gateway refuses with them too), upload metadata
``shared.media.metadata``.

No I/O and no framework imports: the service, the worker and the gateway route all decide with
these functions.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.buckets import MASTERS_BUCKET as MASTERS_BUCKET
from shared.media.formats import FORMATS as FORMATS
from shared.media.formats import REFUSAL_TEXT as REFUSAL_TEXT
from shared.media.formats import Format as Format
from shared.media.formats import MediaError as MediaError
from shared.media.formats import MediaLimits as MediaLimits
from shared.media.formats import Refused as Refused
from shared.media.formats import refusal_details as refusal_details
from shared.media.formats import sample_bytes as sample_bytes
from shared.media.formats import unsupported_upload as unsupported_upload

THUMBNAIL_SIZE = 400
STATUSES = ("processing", "ready", "failed")

# shown beside ``failure_reason`` (the worker's own words, in English) on a failed asset
FAILURE_TEXT = {
    "vi": "Không tạo được bản phái sinh: tệp gốc không xử lý được (xem lý do).",
    "en": "Derivatives could not be made: the master cannot be processed (see the reason).",
}


# names and keys -------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str | None) -> str:
    """The client's file name as a label only: no path, no control characters, ≤ 200 chars.

    It never becomes part of a key (keys come from the asset id and the sniffed format).
    """
    if not name:
        return ""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200]


def master_key(asset_id: str, ext: str, version: int = 1) -> str:
    """Key of a master in ``masters``; version 1 keeps the canonical key (architecture.md)."""
    if version == 1:
        return f"assets/{asset_id}/original.{ext}"
    return f"assets/{asset_id}/v{version}/original.{ext}"


def thumbnail_key(asset_id: str) -> str:
    return f"assets/{asset_id}/thumbnail.jpg"


def page_key(asset_id: str, page: int) -> str:
    return f"assets/{asset_id}/pages/{page:05d}.jpg"


def poster_key(asset_id: str) -> str:
    return f"assets/{asset_id}/poster.jpg"


def purge_after(now: datetime, limits: MediaLimits) -> datetime:
    return now + timedelta(days=limits.retention_days)


def premis_event(
    event_type: str, agent: str, outcome: str = "success", **detail: Any
) -> dict[str, Any]:
    """A preservation event (PREMIS-style: type, date, agent, outcome, detail)."""
    return {
        "event_type": event_type,
        "occurred_at": datetime.now(UTC),
        "agent": agent,
        "outcome": outcome,
        "detail": detail,
    }


def levels_of(width: int, height: int, tile: int) -> int:
    """Pages of a pyramid halving (floor) until the image fits one tile, as vips writes them."""
    levels = 1
    while width > tile or height > tile:
        width, height = max(1, width // 2), max(1, height // 2)
        levels += 1
    return levels
