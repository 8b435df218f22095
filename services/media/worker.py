"""The derivative worker: one ``media.asset_ingested`` event → derivatives, state, an event.

Runs inside the reliable handler's transaction. Outputs go to fixed keys, so a redelivered event
(a worker killed mid-way, whose claim was never committed) overwrites rather than adds. The
pixel work runs in an OS thread (``eventlet.tpool``) so the container's hub, heartbeats and
other workers keep going. A master that cannot be processed is ``failed`` with its reason; an
unreachable S3 or database raises, and the event is retried with backoff.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from eventlet import tpool

from services.imageserver.keys import DERIVATIVES_BUCKET, derivative_key
from services.media import derivatives
from services.media import repository as repo
from services.media.domain import MASTERS_BUCKET, MediaLimits, premis_event
from shared.db import DbSession
from shared.events import Event, make_event
from shared.storage import ObjectStore

log = logging.getLogger(__name__)

AGENT = "media:derivative-worker"
PROBE_URL_EXPIRES = timedelta(hours=2)


def _produce(src: Any, asset: dict[str, Any], workdir: Path, limits: MediaLimits) -> Any:
    asset_id, fmt, kind = str(asset["id"]), asset["format"], asset["kind"]
    if kind == "image":
        return derivatives.image(src, fmt, workdir, asset_id, derivative_key(asset_id))
    if kind == "pdf":
        return derivatives.pdf(src, workdir, asset_id, limits.max_pages)
    if kind in ("audio", "video"):
        return derivatives.av(src, workdir, asset_id)
    if kind == "model":
        return derivatives.gltf(src, binary=fmt == "glb")
    raise derivatives.DerivativeFailed(f"no derivatives for kind {kind}")


def make_derivatives(db: DbSession, store: ObjectStore, limits: MediaLimits, event: Event) -> None:
    asset_id = event.data["asset_id"]
    asset = repo.get_asset(db, asset_id, lock=True)
    if asset is None or asset["deleted_at"] is not None:
        log.info("asset %s is gone or deleted; no derivatives", asset_id)
        return
    if int(asset["version"]) != int(event.data.get("version", 1)):
        log.info("asset %s moved on to version %s; skipped", asset_id, asset["version"])
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="disan-media-") as tmp:
        workdir = Path(tmp)
        src: Path | str
        if asset["kind"] in ("audio", "video"):
            # ffprobe/ffmpeg read what they need over HTTP: no copy of a long recording
            src = store.presigned_get(MASTERS_BUCKET, asset["master_key"], PROBE_URL_EXPIRES)
        else:
            src = workdir / f"master.{asset['master_key'].rsplit('.', 1)[-1]}"
            store.download(MASTERS_BUCKET, asset["master_key"], str(src))
        try:
            outputs = tpool.execute(_produce, src, asset, workdir, limits)
        except derivatives.DerivativeFailed as exc:
            _failed(db, asset, str(exc), event)
            return
        for key, path in outputs.files.items():
            with path.open("rb") as f:
                content = "image/tiff" if key.endswith(".tif") else "image/jpeg"
                store.put_stream(DERIVATIVES_BUCKET, key, f, path.stat().st_size, content)
    technical = outputs.technical | {"derivatives": sorted(outputs.files)}
    seconds = round(time.monotonic() - started, 3)
    repo.mark_ready(db, asset_id, technical)
    repo.add_event(
        db,
        asset_id,
        premis_event(
            "derivative creation",
            AGENT,
            outputs=sorted(outputs.files),
            seconds=seconds,
            version=asset["version"],
        ),
    )
    db.publish(
        make_event(
            "media.derivative_ready",
            {
                "asset_id": asset_id,
                "record_id": str(asset["record_id"]),
                "version": asset["version"],
                "kind": asset["kind"],
                "width": technical.get("width"),
                "height": technical.get("height"),
                "levels": technical.get("levels"),
                "pages": technical.get("pages"),
                "duration": technical.get("duration"),
                "derivative_key": derivative_key(asset_id) if asset["kind"] == "image" else None,
            },
            producer="media",
            correlation_id=event.correlation_id,
        )
    )
    log.info("derivatives of %s ready in %.2fs", asset_id, seconds)


def _failed(db: DbSession, asset: dict[str, Any], reason: str, event: Event) -> None:
    asset_id = str(asset["id"])
    log.warning("derivatives of %s failed: %s", asset_id, reason)
    repo.mark_failed(db, asset_id, reason)
    repo.add_event(
        db, asset_id, premis_event("derivative creation", AGENT, "failure", reason=reason)
    )
    db.publish(
        make_event(
            "media.asset_failed",
            {
                "asset_id": asset_id,
                "record_id": str(asset["record_id"]),
                "version": asset["version"],
                "reason": reason,
            },
            producer="media",
            correlation_id=event.correlation_id,
        )
    )
