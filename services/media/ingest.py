"""Taking an uploaded object in: check it where it lies in S3, then register it or remove it.

The bytes are already in ``masters`` (streamed there by the gateway, or by the client through a
presigned multipart upload). Checks read the head, the tail and the header structures with
ranged reads; nothing is decoded. A refused object is deleted before the error goes back, so
no refusal leaves an orphan behind.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import IO, Any, cast

from services.media import repository as repo
from services.media.domain import (
    MASTERS_BUCKET,
    Format,
    MediaLimits,
    Refused,
    master_key,
    premis_event,
    refusal_details,
    safe_filename,
)
from shared.db import DbSession
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import make_event
from shared.media import sniff
from shared.storage import ChecksumMismatch, ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

MAX_GLTF_BYTES = 200 * 1024 * 1024


def check_object(
    store: ObjectStore, key: str, limits: MediaLimits
) -> tuple[Format, dict[str, Any], int]:
    """Sniff and check the object at ``masters/key``; its format, technical metadata, size."""
    size = store.stat(MASTERS_BUCKET, key).size
    if size == 0:
        raise Refused("empty", "the file is empty (zero bytes)")
    if size > limits.max_upload_bytes:
        raise Refused("too_large", f"the file is larger than {limits.max_upload_bytes} bytes")
    head = store.read_range(MASTERS_BUCKET, key, 0, sniff.HEAD_BYTES)
    fmt = sniff.detect(head)
    tail = store.read_range(MASTERS_BUCKET, key, max(0, size - sniff.TAIL_BYTES), sniff.TAIL_BYTES)
    sniff.check_complete(fmt, tail)
    technical: dict[str, Any] = {"format": fmt.name, "mime_type": fmt.mime, "size": size}
    if fmt.kind == "image":
        with store.open_ranged(MASTERS_BUCKET, key) as f:
            header = sniff.inspect_image(cast(IO[bytes], f), size, fmt, limits)
        technical |= {
            "width": header.width,
            "height": header.height,
            "pages": header.pages,
            "bands": header.bands,
            "bit_depth": header.bit_depth,
            "colour_space": header.colour_space,
        }
    elif fmt.kind == "model" and size > MAX_GLTF_BYTES:
        raise Refused("too_large", f"a 3D model is at most {MAX_GLTF_BYTES} bytes")
    return fmt, technical, size


def register(
    db: DbSession,
    store: ObjectStore,
    limits: MediaLimits,
    *,
    actor: str,
    record_id: str,
    asset_id: str,
    key: str,
    sha256: str,
    filename: str,
    metadata: dict[str, Any],
    correlation_id: str | None,
    replaces: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check the uploaded object; register it as an asset (or a new version) or delete it."""
    try:
        fmt, technical, size = check_object(store, key, limits)
    except Refused as exc:
        discard(store, key)
        raise exc.to_client_error() from None
    except ObjectNotFound:
        raise NotFound("the uploaded object is not in storage") from None
    version = 1 if replaces is None else int(replaces["version"]) + 1
    final = master_key(asset_id, fmt.ext, version)
    if key != final and store.exists(MASTERS_BUCKET, final):
        discard(store, key)
        raise Conflict("a master already exists there; masters are never overwritten")
    try:
        # the SHA-256 as metadata and as S3's own checksum, which must match it
        sealed = store.seal(MASTERS_BUCKET, key, final, sha256)
    except ChecksumMismatch as exc:
        discard(store, key)
        raise ValidationFailed(
            f"the stored bytes do not match the upload's SHA-256 ({exc})",
            refusal_details("checksum_mismatch"),
        ) from None
    if key != final:
        discard(store, key)
    row = {
        "id": asset_id,
        "record_id": record_id,
        "kind": fmt.kind,
        "format": fmt.name,
        "mime_type": fmt.mime,
        "master_key": final,
        "size": size,
        "sha256": sha256,
        "filename": safe_filename(filename),
        # without a position an upload goes after the record's assets: pages keep their order
        "position": (
            int(metadata["position"])
            if "position" in metadata
            else repo.next_position(db, record_id)
        ),
        "metadata": metadata,
        "technical": technical,
        "width": technical.get("width"),
        "height": technical.get("height"),
        "created_by": actor,
    }
    if replaces is None:
        repo.insert_asset(db, row)
    else:
        repo.replace_master(db, asset_id, version, row)
        repo.add_event(
            db,
            asset_id,
            premis_event(
                "replacement",
                actor,
                previous_version=replaces["version"],
                previous_key=replaces["master_key"],
                version=version,
            ),
        )
        db.publish(
            make_event(
                "media.asset_replaced",
                {
                    "asset_id": asset_id,
                    "record_id": record_id,
                    "version": version,
                    "previous_version": replaces["version"],
                },
                producer="media",
                actor=actor,
                correlation_id=correlation_id,
            )
        )
    for event in (
        premis_event("ingestion", actor, key=final, size=size, version=version),
        premis_event(
            "message digest calculation",
            "media",
            algorithm="SHA-256",
            value=sha256,
            s3_checksum=sealed.checksum_sha256,
        ),
        premis_event("format identification", "media", format=fmt.name, mime_type=fmt.mime),
        premis_event("validation", "media", checks="sniff, completeness, header limits"),
    ):
        repo.add_event(db, asset_id, event)
    db.publish(
        make_event(
            "media.asset_ingested",
            {
                "asset_id": asset_id,
                "record_id": record_id,
                "version": version,
                "format": fmt.name,
                "kind": fmt.kind,
                "size": size,
                "sha256": sha256,
                "master_key": final,
            },
            producer="media",
            actor=actor,
            correlation_id=correlation_id,
        )
    )
    asset = repo.get_asset(db, asset_id)
    assert asset is not None
    return asset


def discard(store: ObjectStore, key: str) -> None:
    """Delete an uploaded object that will not be registered (logged, never raised)."""
    try:
        store.delete(MASTERS_BUCKET, key)
    except Exception:  # noqa: BLE001 - the refusal matters more; the purge sweeps leftovers
        log.exception("could not delete refused upload %s", key)


def staging_key(upload_id: str | None = None) -> str:
    """Where a presigned multipart upload lands before it is checked and registered."""
    return f"uploads/{upload_id or uuid.uuid4()}"


def now() -> datetime:
    return datetime.now(UTC)
