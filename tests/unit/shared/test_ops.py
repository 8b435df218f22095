"""The ops app every process serves: health with extra fields, readiness, metrics, 404s in the
platform's error format; and the threaded server that carries it outside nameko."""

from __future__ import annotations

import json
from typing import Any

import requests

from shared.ops import health_app, threaded_ops_server


def _call(app: Any, path: str) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path}, start_response))
    return seen["status"], seen["headers"], body


def test_health_carries_the_extra_fields_and_readiness_fails_on_any_check() -> None:
    checks = {"storage": "ok", "workers": "none running"}
    app = health_app("imageserver", lambda: checks, lambda: {"workers": 0}, lambda: b"m 1\n")
    status, _, body = _call(app, "/healthz")
    assert status == "200 OK"
    assert json.loads(body) == {"status": "ok", "service": "imageserver", "workers": 0}
    status, _, body = _call(app, "/readyz")
    assert status.startswith("503") and json.loads(body)["checks"] == checks
    checks["workers"] = "ok"
    assert _call(app, "/readyz")[0] == "200 OK"
    assert _call(app, "/metrics")[2] == b"m 1\n"
    status, headers, body = _call(app, "/nothing")
    assert status.startswith("404") and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == {"code": "not_found", "message": "/nothing", "details": {}}


def test_the_threaded_server_answers_over_http() -> None:
    server = threaded_ops_server("127.0.0.1", 0, health_app("purger", lambda: {"broker": "down"}))
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert requests.get(f"{base}/healthz?x=1", timeout=5).json()["service"] == "purger"
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"] == {"broker": "down"}
        assert requests.get(f"{base}/other", timeout=5).status_code == 404
    finally:
        server.shutdown()
