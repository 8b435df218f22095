"""The upload sink: where the gateway streams an upload's bytes without touching ``masters``.

Media owns its buckets, so the gateway never names one: it asks media to open a sink (an S3
multipart upload media starts at a key it chooses), writes the parts over plain HTTP to the
presigned part URLs media hands out, then asks media to close the sink (assemble the parts) or
to discard it. Why: ``docs/decisions/0056-media-upload-sink.md``.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from typing import Any

from services.media import ingest
from services.media import repository as repo
from services.media.domain import FORMATS, MASTERS_BUCKET, master_key
from shared.db import DbSession
from shared.errors import BadRequest
from shared.storage import ObjectNotFound, ObjectStore, StorageError

log = logging.getLogger(__name__)

#: bytes per part the gateway sends: 8 MB keeps ~3 parts in memory, and 10,000 parts 80 GB
PART_SIZE = 8 * 1024 * 1024
#: a sink's part URLs stay valid this long (an upload of 50 GB at 20 MB/s takes ~45 min)
PART_URL_EXPIRES = timedelta(hours=6)
#: part URLs handed out per call (the gateway asks again every 16 parts, 128 MB)
MAX_PART_URLS = 64

_EXTS = frozenset(f.ext for f in FORMATS.values())
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY = re.compile(rf"^(?:uploads/{_UUID}|assets/({_UUID})/original)\.([a-z0-9]{{2,5}})$")


def sink_key(asset_id: Any, ext: Any, stage: Any) -> str:
    """The key an upload is written to: the asset's first master, or a staging key."""
    if not isinstance(ext, str) or ext not in _EXTS:
        raise BadRequest(f"no format has the extension {ext!r}")
    try:
        if stage is None:
            return master_key(str(uuid.UUID(asset_id)), ext)
        return f"uploads/{uuid.UUID(stage)}.{ext}"
    except ValueError:
        raise BadRequest("asset_id and stage are UUIDs") from None


def open_sink(store: ObjectStore, key: str, content_type: str) -> dict[str, Any]:
    """Start the multipart upload of a sink; what the gateway needs to write to it."""
    upload_id = store.create_multipart(MASTERS_BUCKET, key, content_type)
    return {"sink": {"key": key, "upload_id": upload_id}, "part_size": PART_SIZE}


def checked(sink: Any) -> tuple[str, str]:
    """A sink as the gateway sends it back: (key, upload id); 400 for anything else."""
    if not isinstance(sink, dict):
        raise BadRequest("sink must be what open_upload answered")
    key, upload_id = sink.get("key"), sink.get("upload_id")
    if not isinstance(key, str) or not _KEY.match(key):
        raise BadRequest("sink key is not an upload's")
    if not isinstance(upload_id, str) or not upload_id:
        raise BadRequest("sink has no upload id")
    return key, upload_id


def part_urls(store: ObjectStore, sink: Any, first: Any, count: Any) -> list[str]:
    """Presigned PUT URLs of parts ``first`` .. ``first + count - 1`` of a sink."""
    key, upload_id = checked(sink)
    if not isinstance(first, int) or not isinstance(count, int):
        raise BadRequest("first and count are integers")
    if not 1 <= count <= MAX_PART_URLS or not 1 <= first <= 10_001 - count:
        raise BadRequest(f"parts are numbered 1..10000, at most {MAX_PART_URLS} per call")
    return [
        store.presigned_part(MASTERS_BUCKET, key, upload_id, n, PART_URL_EXPIRES)
        for n in range(first, first + count)
    ]


def close_sink(store: ObjectStore, sink: Any) -> dict[str, Any]:
    """Assemble a sink's parts into its object; its key and size."""
    key, upload_id = checked(sink)
    try:
        stored = store.complete_multipart(MASTERS_BUCKET, key, upload_id)
    except ObjectNotFound:
        raise
    except StorageError as exc:
        raise BadRequest(f"the upload cannot be completed ({exc})") from None
    return {"key": key, "size": stored.size}


def discard_sink(db: DbSession, store: ObjectStore, sink: Any) -> bool:
    """Abort a sink's upload and delete its object, unless it is a registered asset's master
    (a concurrent repeat of the same upload registered it): True if anything was discarded."""
    key, upload_id = checked(sink)
    match = _KEY.match(key)
    asset_id = match.group(1) if match else None
    if asset_id is not None and repo.get_asset(db, asset_id, False) is not None:
        log.info("upload sink %s is a registered master: kept", key)
        return False
    try:
        store.abort_multipart(MASTERS_BUCKET, key, upload_id)
    except StorageError:  # already completed (or aborted): the object is what remains
        pass
    ingest.discard(store, key)
    return True
