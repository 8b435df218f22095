"""``main(settings)``: the image server process (``disan service run imageserver``).

The parent binds the HTTP socket once, starts ``workers`` worker processes (spawned, so each
has a clean libvips) that all accept on it, serves ``/healthz``, ``/readyz`` and ``/metrics`` on
the ops port, consumes purge events and fans them out to the workers, restarts a worker that
dies, and stops everything on SIGTERM or SIGINT. Each worker is uvicorn (uvloop + httptools)
with a thread pool for pyvips; see docs/decisions/0020-imageserver-http-stack.md.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from services.imageserver.config import ImageServerConfig, load_config
from shared.config import Settings

log = logging.getLogger(__name__)

__all__ = ["main"]

MB = 1024 * 1024


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


# worker process ---------------------------------------------------------------------------
def _access_checker(settings: Settings, config: ImageServerConfig) -> Any:
    """Who may see what: the access service's policies, or (``access: public``) everyone."""
    from services.imageserver.access import PolicyAccess, PublicAccess

    if config.access == "public":
        log.warning("imageserver.access is 'public': restricted assets are NOT enforced")
        return PublicAccess()
    from shared.access_client import AccessClient

    client = AccessClient(
        settings,
        access_service=config.access_service,
        cache_seconds=config.access_cache_seconds,
        rpc_timeout=3.0,
    )
    # the probe services are the gateway's, under the platform's public URL
    return PolicyAccess(client, settings.public_url, ttl=config.access_cache_seconds)


def _worker(
    settings: Settings, config: ImageServerConfig, sock: socket.socket, conn: Connection
) -> None:
    """One worker: uvicorn on the shared socket; purges arrive on ``conn``."""
    import warnings

    warnings.filterwarnings("ignore", message=".*Eventlet is deprecated")
    import uvicorn

    from services.imageserver.app import ImageApp
    from services.imageserver.caches import SourceCache
    from services.imageserver.images import configure_vips
    from shared.buckets import DERIVATIVES_BUCKET, derivative_key
    from shared.logs import configure_logging
    from shared.storage import ObjectStore

    configure_logging("imageserver")
    configure_vips()
    store = ObjectStore(settings.s3)

    def fetch(asset_id: str, target: Path) -> str:
        key = derivative_key(asset_id)
        stat = store.stat(DERIVATIVES_BUCKET, key)
        store.download(DERIVATIVES_BUCKET, key, str(target))
        return (stat.etag or "").strip('"') or f"{stat.size}"

    sources = SourceCache(config.source_dir, config.source_cache_mb * MB, fetch)
    app = ImageApp(config, sources, _access_checker(settings, config))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            loop="uvloop",
            http="httptools",
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            # the app limits requests in progress (503 JSON with CORS, ImageApp); uvicorn's own
            # limit counts open connections and answers a bare text 503 without CORS
            limit_concurrency=None,
            backlog=config.backlog,
            timeout_keep_alive=config.keep_alive_seconds,
        )
    )

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                server.should_exit = True  # the parent is gone: stop too
                return
            if isinstance(message, tuple) and message and message[0] == "purge":
                app.purge(message[1])
            elif isinstance(message, tuple) and message and message[0] == "access":
                app.access.purge(message[1])

    threading.Thread(target=listen, name="purge-listener", daemon=True).start()
    server.run(sockets=[sock])


# ops port ---------------------------------------------------------------------------------
def _ops_server(
    settings: Settings, host: str, port: int, alive: Any, purges: Any
) -> ThreadingHTTPServer:
    from services.imageserver.metrics import render_metrics
    from shared.health import run_checks
    from shared.ops import health_app, threaded_ops_server

    def ready() -> dict[str, str]:
        checks = run_checks(settings, ("storage",))
        if alive() == 0:
            checks["workers"] = "none running"
        return checks

    def health() -> dict[str, Any]:
        return {"workers": alive(), "purge_events": purges()}

    app = health_app("imageserver", ready, health, render_metrics)
    return threaded_ops_server(host, port, app)


# supervisor -------------------------------------------------------------------------------
class _Supervisor:
    def __init__(self, settings: Settings, config: ImageServerConfig, sock: socket.socket) -> None:
        self.settings, self.config, self.sock = settings, config, sock
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[Any, Connection]] = []
        self.lock = threading.Lock()

    def start_worker(self) -> tuple[Any, Connection]:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker,
            args=(self.settings, self.config, self.sock, child),
            name="imageserver-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return process, parent

    def start(self) -> None:
        with self.lock:
            self.workers = [self.start_worker() for _ in range(self.config.workers)]

    def alive(self) -> int:
        return sum(1 for process, _ in self.workers if process.is_alive())

    def restart_dead(self) -> None:
        with self.lock:
            for index, (process, conn) in enumerate(self.workers):
                if not process.is_alive():
                    log.warning(
                        "worker %s exited with %s; restarting", process.pid, process.exitcode
                    )
                    conn.close()
                    self.workers[index] = self.start_worker()

    def broadcast(self, message: tuple[str, str | None]) -> None:
        with self.lock:
            for _, conn in self.workers:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(message)

    def stop(self, timeout: float = 10.0) -> None:
        with self.lock:
            for process, _ in self.workers:
                if process.is_alive():
                    process.terminate()
            deadline = time.monotonic() + timeout
            for process, conn in self.workers:
                process.join(max(0.1, deadline - time.monotonic()))
                if process.is_alive():
                    process.kill()
                    process.join(2)
                conn.close()


def main(settings: Settings) -> None:
    """Serve the IIIF Image API until SIGTERM or SIGINT."""
    config = load_config(settings)
    if config.access == "policy":
        settings.access.signing_keys()  # no token secret: refuse to start, not crash-loop
    metrics_dir = tempfile.mkdtemp(prefix="disan-imageserver-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # libvips threads each get a glibc malloc arena otherwise: RSS balloons under load
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    if config.malloc_mmap_threshold_kb:
        # freed decode buffers go back to the OS at once instead of piling up in the heaps
        # (docs/benchmarks.md, Image tiles: memory); the spawned workers read it at start
        threshold = str(config.malloc_mmap_threshold_kb * 1024)
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", threshold)
        os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", threshold)
    config.source_dir.mkdir(parents=True, exist_ok=True)
    host = settings.bind_host
    port = settings.ports.http["imageserver"]
    sock = _bind(host, port, config.backlog)
    supervisor = _Supervisor(settings, config, sock)
    stop = threading.Event()

    def shutdown(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    supervisor.start()
    consumer: Any = None

    def purge_state() -> str:
        if consumer is None:
            return "off"
        return "connected" if consumer.connected.is_set() else "disconnected"

    ops = _ops_server(
        settings, host, settings.ops_port("imageserver"), supervisor.alive, purge_state
    )

    from services.imageserver.caches import SourceCache

    def never_fetch(asset_id: str, target: Path) -> str:
        raise RuntimeError("the supervisor does not fetch")

    sources = SourceCache(config.source_dir, config.source_cache_mb * MB, never_fetch)

    def purge(asset_id: str | None) -> None:
        if asset_id is not None:
            sources.purge(asset_id)
        supervisor.broadcast(("purge", asset_id))
        log.info("purged %s", asset_id or "every asset")

    if config.purge_events:
        from shared.purges import PurgeConsumer

        def purge_access(asset_id: str | None) -> None:
            supervisor.broadcast(("access", asset_id))
            log.info("forgot access decisions for %s", asset_id or "every asset")

        consumer = PurgeConsumer(settings.amqp_uri, purge, purge_access)
        consumer.start("imageserver-purges")
    log.info(
        "image server on %s:%d with %d workers (ops port %d)",
        host,
        port,
        config.workers,
        settings.ops_port("imageserver"),
    )
    try:
        while not stop.wait(0.5):
            supervisor.restart_dead()
    finally:
        if consumer is not None:
            consumer.stop()
        supervisor.stop()
        ops.shutdown()
        ops.server_close()
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("image server stopped")
