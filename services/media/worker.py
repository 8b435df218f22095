"""The derivative worker: one ``media.asset_ingested`` event → derivatives, state, an event.

Runs inside the reliable handler's transaction. Outputs go to fixed keys, so a redelivered event
(a worker killed mid-way, whose claim was never committed) overwrites rather than adds. The
pixel work runs in an OS thread (``eventlet.tpool``) so the container's hub, heartbeats and
other workers keep going; nothing in those threads touches a green primitive — no logging
there, and libvips's own messages reach ``logging`` through ``shared.logs.route_vips_logs``
(ADR 0055). A master that cannot be processed is ``failed`` with its reason; an
unreachable S3 or database raises, and the event is retried with backoff.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import eventlet
from eventlet import patcher, tpool

from services.media import derivatives
from services.media import repository as repo
from services.media.domain import MASTERS_BUCKET, MediaLimits, premis_event
from shared.buckets import DERIVATIVES_BUCKET, derivative_key
from shared.db import DbSession
from shared.events import Event, make_event
from shared.logs import route_vips_logs
from shared.ops import progress, progress_marker
from shared.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)
_http = patcher.original("http.client")  # blocking sockets, for the transfer's OS thread
_threading = patcher.original("threading")

AGENT = "media:derivative-worker"
PROBE_URL_EXPIRES = timedelta(hours=2)


def _produce(
    src: Any,
    asset: dict[str, Any],
    workdir: Path,
    limits: MediaLimits,
    beat: Callable[[], None] | None = None,
) -> Any:
    asset_id, fmt, kind = str(asset["id"]), asset["format"], asset["kind"]
    if kind == "image":
        return derivatives.image(src, fmt, workdir, asset_id, derivative_key(asset_id), beat)
    if kind == "pdf":
        return derivatives.pdf(src, workdir, asset_id, limits.max_pages)
    if kind in ("audio", "video"):
        return derivatives.av(src, workdir, asset_id)
    if kind == "model":
        return derivatives.gltf(src, binary=fmt == "glb")
    raise derivatives.DerivativeFailed(f"no derivatives for kind {kind}")


DIRECT_PUT_MAX = 5 * 1024**3  # one PUT; larger outputs go through the multipart client


def _upload(store: ObjectStore, key: str, path: Path, content_type: str) -> None:
    """One output to ``derivatives``: a presigned PUT sent from an OS thread with plain
    sockets (the service's event loop stays out of the transfer), multipart when huge."""
    size = path.stat().st_size
    if size > DIRECT_PUT_MAX:
        with path.open("rb") as f:
            store.put_stream(DERIVATIVES_BUCKET, key, f, size, content_type)
        return
    url = store.presigned_put(DERIVATIVES_BUCKET, key, PROBE_URL_EXPIRES)
    tpool.execute(_put_file, url, path, size, content_type)


def _connection(url: str) -> tuple[Any, str]:
    parts = urlsplit(url)
    cls = _http.HTTPSConnection if parts.scheme == "https" else _http.HTTPConnection
    return cls(parts.netloc, timeout=300, blocksize=1024 * 1024), f"{parts.path}?{parts.query}"


def _put_file(url: str, path: Path, size: int, content_type: str) -> None:
    connection, target = _connection(url)
    try:
        with path.open("rb") as f:
            connection.request(
                "PUT",
                target,
                body=f,
                headers={"Content-Length": str(size), "Content-Type": content_type},
            )
        response = connection.getresponse()
        detail = response.read(2000)
        if response.status != 200:
            raise StorageError(f"writing {path.name}: HTTP {response.status} {detail[:200]!r}")
    finally:
        connection.close()


def _pump(url: str, fd: int, failure: list[BaseException]) -> None:
    """Copy the master from S3 into the pipe libvips reads, in an OS thread of its own with
    plain (unpatched) sockets: the transfer never waits for the service's event loop."""
    try:
        connection, target = _connection(url)
        try:
            connection.request("GET", target)
            response = connection.getresponse()
            if response.status != 200:
                raise StorageError(f"reading the master: HTTP {response.status}")
            while chunk := response.read(1024 * 1024):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            connection.close()
    except BrokenPipeError:
        pass  # the decoder stopped reading (it failed, or needed no more): its outcome counts
    except BaseException as exc:  # noqa: BLE001 - handed to the worker, which raises it
        failure.append(exc)
    finally:
        os.close(fd)


def _produce_streamed(
    store: ObjectStore, asset: dict[str, Any], workdir: Path, limits: MediaLimits
) -> Any:
    """Decode the master while it downloads: S3 → pipe → libvips (in C, no local copy).

    A failed download must not pass for a truncated master: the transfer's error wins over
    the decoder's, and is raised (retried) instead of marking the asset failed.
    """
    url = store.presigned_get(MASTERS_BUCKET, asset["master_key"], PROBE_URL_EXPIRES)
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):  # fewer wake-ups with a 1 MB pipe (Linux)
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 1024 * 1024)
    failure: list[BaseException] = []
    pump = _threading.Thread(target=_pump, args=(url, write_fd, failure), daemon=True)
    pump.start()
    try:
        try:
            outputs = tpool.execute(_produce, read_fd, asset, workdir, limits, progress_marker())
        finally:
            os.close(read_fd)  # a decoder that stopped early ends the transfer with EPIPE
    except derivatives.DerivativeFailed:
        tpool.execute(pump.join)
        if failure:
            raise failure[0] from None
        raise
    tpool.execute(pump.join)
    if failure:
        raise failure[0]
    return outputs


def make_derivatives(db: DbSession, store: ObjectStore, limits: MediaLimits, event: Event) -> None:
    route_vips_logs()  # before any libvips work: its messages never reach logging off the hub
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
                    progress()
                outputs = tpool.execute(_produce, src, asset, workdir, limits, progress_marker())
        except derivatives.DerivativeFailed as exc:
            _failed(db, asset, str(exc), event)
            return
        progress()
        for note in outputs.notes:
            log.warning("derivatives of %s: %s", asset_id, note)
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
