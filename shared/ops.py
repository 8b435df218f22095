"""The ops port of every service: ``/healthz``, ``/readyz`` and ``/metrics``.

A small eventlet WSGI server of its own, so services without HTTP entrypoints have one too and
the gateway's public routes stay separate from operational ones. Processes outside nameko (the
image server's supervisor, the Cantaloupe purger) serve the same app from a thread
(``threaded_ops_server``).

``/readyz`` also says whether the service's workers get anywhere (ADR 0055): a worker running
longer than ``DISAN_STUCK_AFTER`` seconds (default 600) since it started or last reported
progress (``progress()``, ``progress_marker()``) turns the ``workers`` check red, so a service
whose workers are wedged does not pass for ready while its broker, database and S3 answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import eventlet
import eventlet.wsgi
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.health import run_checks

log = logging.getLogger(__name__)

STUCK_AFTER = 600.0  # seconds a worker may go without progress before readiness turns red

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Silent:
    def write(self, *_: Any) -> None:
        pass


def health_app(
    service: str,
    ready: Callable[[], dict[str, str]],
    health: Callable[[], dict[str, Any]] | None = None,
    metrics: Callable[[], bytes] = generate_latest,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The ops WSGI app; ``health`` adds fields to ``/healthz``, ``metrics`` renders metrics."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [metrics()]
        body: dict[str, Any]
        if path == "/healthz":
            status, body = "200 OK", {"status": "ok", "service": service}
            if health is not None:
                body |= health()
        elif path == "/readyz":
            checks = ready()
            ok = all(v == "ok" for v in checks.values())
            status = "200 OK" if ok else "503 Service Unavailable"
            body = {"status": "ok" if ok else "unavailable", "service": service, "checks": checks}
        else:
            status = "404 Not Found"
            body = {"error": {"code": "not_found", "message": path, "details": {}}}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


def threaded_ops_server(
    host: str,
    port: int,
    app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
) -> ThreadingHTTPServer:
    """Serve an ops app (``health_app``) from daemon threads, for processes outside nameko."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            answer: dict[str, Any] = {}

            def start_response(status: str, headers: list[tuple[str, str]]) -> None:
                answer["status"], answer["headers"] = status, headers

            body = b"".join(app({"PATH_INFO": self.path.split("?", 1)[0]}, start_response))
            self.send_response(int(answer["status"].split(" ", 1)[0]))
            for name, value in answer["headers"]:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ops", daemon=True).start()
    return server


@dataclass
class Running:
    """One running worker: its entrypoint, and when it started or last made progress.

    ``last`` is a float written with one assignment, so any OS thread (a tpool thread, a
    libvips callback) may mark progress without touching a green primitive."""

    entrypoint: str
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)

    def mark(self) -> None:
        self.last = time.monotonic()


_current = threading.local()  # green-thread-local under eventlet: each worker its own


def progress() -> None:
    """The calling worker is getting somewhere (a stage done, a part sent): not stuck."""
    running: Running | None = getattr(_current, "running", None)
    if running is not None:
        running.mark()


def progress_marker() -> Callable[[], None]:
    """``progress`` for the calling worker, callable later from any OS thread."""
    running: Running | None = getattr(_current, "running", None)
    return running.mark if running is not None else (lambda: None)


def stuck_workers(running: Iterable[Running], stuck_after: float, now: float) -> str:
    """``ok``, or which workers have made no progress for ``stuck_after`` seconds."""
    stuck = sorted((now - r.last, r.entrypoint) for r in running if now - r.last > stuck_after)
    if not stuck:
        return "ok"
    idle, entrypoint = stuck[-1]
    return (
        f"{len(stuck)} worker(s) without progress for more than {stuck_after:g}s;"
        f" longest: {entrypoint} for {idle:.0f}s"
    )


class OpsServer(DependencyProvider):  # type: ignore[misc]
    """Serves health and metrics on the service's ops port (0 picks a free port), and keeps
    track of the service's running workers for readiness."""

    def __init__(self, checks: tuple[str, ...] = ("broker", "database", "storage")) -> None:
        self.checks = checks
        self.port = 0
        self.stuck_after = STUCK_AFTER
        self.running: dict[int, Running] = {}
        self._gt: Any = None
        self._sock: Any = None

    def setup(self) -> None:
        self.settings = self.container.config["DISAN_SETTINGS"]
        service = self.container.service_name
        port = self.container.config.get("DISAN_OPS_PORT", self.settings.ports.ops.get(service, 0))
        self.stuck_after = float(self.container.config.get("DISAN_STUCK_AFTER", STUCK_AFTER))
        self._sock = eventlet.listen((self.settings.bind_host, int(port)))
        self.port = self._sock.getsockname()[1]

    def start(self) -> None:
        app = health_app(self.container.service_name, self._ready)
        self._gt = self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(self._sock, app, log=_Silent(), log_output=False),
            identifier="ops-server",
        )
        log.info("ops server of %s on port %d", self.container.service_name, self.port)

    def _ready(self) -> dict[str, str]:
        results = run_checks(self.settings, self.checks)
        now = time.monotonic()
        results["workers"] = stuck_workers(list(self.running.values()), self.stuck_after, now)
        return results

    def worker_setup(self, worker_ctx: Any) -> None:
        running = Running(worker_ctx.entrypoint.method_name)
        self.running[id(worker_ctx)] = running
        _current.running = running

    def worker_teardown(self, worker_ctx: Any) -> None:
        self.running.pop(id(worker_ctx), None)
        _current.running = None

    def stop(self) -> None:
        if self._gt is not None:
            self._gt.kill()
            self._gt = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
