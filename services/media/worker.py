"""The derivative worker: one ``media.asset_ingested`` event → derivatives, state, an event.

Runs inside the reliable handler's transaction. Outputs go to fixed keys, so a redelivered event
(a worker killed mid-way, whose claim was never committed) overwrites rather than adds. The
pixel work runs in an OS thread (``eventlet.tpool``) so the container's hub, heartbeats and
other workers keep going. A master that cannot be processed is ``failed`` with its reason; an
unreachable S3 or database raises, and the event is retried with backoff.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import eventlet
from eventlet import tpool
from eventlet.greenio import GreenPipe

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


def _upload(store: ObjectStore, key: str, path: Path, content_type: str) -> None:
    with path.open("rb") as f:
        store.put_stream(DERIVATIVES_BUCKET, key, f, path.stat().st_size, content_type)


def _pump(store: ObjectStore, key: str, pipe: Any) -> None:
    """Copy the master from S3 into the pipe libvips reads (a green thread)."""
    try:
        for chunk in store.iter_chunks(MASTERS_BUCKET, key, 1024 * 1024):
            pipe.write(chunk)
    finally:
        pipe.close()


def _produce_streamed(
    store: ObjectStore, asset: dict[str, Any], workdir: Path, limits: MediaLimits
) -> Any:
    """Decode the master while it downloads: S3 → pipe → libvips (in C, no local copy).

    A failed download must not pass for a truncated master: the pump's error wins over the
    decoder's, and is raised (retried) instead of marking the asset failed.
    """
    read_fd, write_fd = os.pipe()
    pump = eventlet.spawn(_pump, store, asset["master_key"], GreenPipe(write_fd, "wb", 0))
    try:
        try:
            outputs = tpool.execute(_produce, read_fd, asset, workdir, limits)
        finally:
            os.close(read_fd)  # a decoder that stopped early ends the pump with EPIPE
    except derivatives.DerivativeFailed:
        _wait_pump(pump)
        raise
    _wait_pump(pump)
    return outputs


def _wait_pump(pump: Any) -> None:
    try:
        pump.wait()
    except BrokenPipeError:
        pass  # the decoder stopped reading (it failed or needed no more): its outcome counts


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
        try:
            if asset["kind"] == "image" and asset["format"] in derivatives.STREAMED_FORMATS:
                outputs = _produce_streamed(store, asset, workdir, limits)
            else:
                src: Path | str
                if asset["kind"] in ("audio", "video"):
                    # ffprobe/ffmpeg read what they need over HTTP: no copy of a long recording
                    src = store.presigned_get(
                        MASTERS_BUCKET, asset["master_key"], PROBE_URL_EXPIRES
                    )
                else:
                    src = workdir / f"master.{asset['master_key'].rsplit('.', 1)[-1]}"
                    store.download(MASTERS_BUCKET, asset["master_key"], str(src))
                outputs = tpool.execute(_produce, src, asset, workdir, limits)
        except derivatives.DerivativeFailed as exc:
            _failed(db, asset, str(exc), event)
            return
        uploads = [
            eventlet.spawn(
                _upload, store, key, path, "image/tiff" if key.endswith(".tif") else "image/jpeg"
            )
            for key, path in outputs.files.items()
        ]
        for upload in uploads:
            upload.wait()
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
