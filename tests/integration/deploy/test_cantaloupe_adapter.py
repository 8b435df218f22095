"""The Cantaloupe adapter (deploy/cantaloupe/iiif-paths.conf.template) in a real nginx, in front
of a stand-in Cantaloupe on loopback: Disan's public image URLs reach Cantaloupe's paths, the ids
in info.json come back under the public paths, and they follow DISAN_PUBLIC_URL only, never a
client's Host or X-Forwarded-* headers (ADR 0093)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_port

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def public_root(headers: Any) -> str:
    """The root Cantaloupe 5 builds its ids from: X-Forwarded-Proto/-Host/-Port/-BasePath, each
    falling back to the request (Host header, http)."""
    proto = headers.get("X-Forwarded-Proto") or "http"
    host = headers.get("X-Forwarded-Host") or headers.get("Host")
    port = headers.get("X-Forwarded-Port")
    if port and ":" not in host and port != {"http": "80", "https": "443"}.get(proto):
        host = f"{host}:{port}"
    return f"{proto}://{host}{headers.get('X-Forwarded-BasePath') or ''}"


class StandInCantaloupe:
    """Answers like Cantaloupe 5 without base_uri: ids from the forwarded headers and its path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802
                stand_in.paths.append(self.path)
                root = public_root(self.headers)
                match = re.fullmatch(r"/iiif/3/([^/]+)/info\.json", self.path)
                if match:
                    body = json.dumps(
                        {"id": f"{root}/iiif/3/{match.group(1)}", "type": "ImageService3"}
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                elif self.path.startswith("/iiif/3/") and self.path.endswith(".jpg"):
                    body = b"\xff\xd8jpeg"
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                elif re.fullmatch(r"/iiif/3/[^/]+", self.path):
                    body = b""
                    self.send_response(303)
                    self.send_header("Location", f"{root}{self.path}/info.json")
                else:
                    body = b"{}"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


PUBLIC_URL = "https://heritage.example.org"
FORGED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "attacker.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-BasePath": "/phish",
    "Forwarded": "host=attacker.example;proto=http",
}


@contextmanager
def start_adapter(tmp_path: Path, public_url: str) -> Iterator[tuple[str, StandInCantaloupe]]:
    """nginx with the template as the nginx image's envsubst would write it, and a stand-in."""
    if NGINX is None:
        pytest.skip("Debian package nginx is not installed")
    cantaloupe = StandInCantaloupe()
    port = free_port()
    template = (ROOT / "deploy/cantaloupe/iiif-paths.conf.template").read_text()
    server = (
        template.replace("${CANTALOUPE_UPSTREAM}", f"127.0.0.1:{cantaloupe.port}")
        .replace("${DISAN_PUBLIC_URL}", public_url)
        .replace("listen 8002;", f"listen 127.0.0.1:{port};")
    )
    for sub in ("logs", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "server.conf").write_text(server)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        "events {}\nhttp {\n  access_log off;\n"
        f"  client_body_temp_path {tmp_path}/tmp/body;\n  proxy_temp_path {tmp_path}/tmp/proxy;\n"
        f"  include {tmp_path}/server.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}", cantaloupe
    finally:
        proc.terminate()
        proc.wait(10)
        cantaloupe.close()


@pytest.fixture
def adapter(tmp_path: Path) -> Any:
    with start_adapter(tmp_path, PUBLIC_URL) as started:
        yield started


def test_public_info_json_url_reaches_cantaloupe_and_ids_stay_public(adapter: Any) -> None:
    base, cantaloupe = adapter
    asset = "0b8f3c1e-7c1a-4c55-9d55-2f3f5f1f9a10"
    response = requests.get(
        f"{base}/iiif/image/3/{asset}/info.json",
        timeout=5,
    )
    assert response.status_code == 200
    assert cantaloupe.paths == [f"/iiif/3/{asset}/info.json"]
    assert response.json()["id"] == f"https://heritage.example.org/iiif/image/3/{asset}"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "public_url",
    [PUBLIC_URL, "http://localhost:8000", "https://museum.example.vn:8443/disan/"],
)
def test_forged_host_and_forwarded_headers_cannot_change_the_id(
    tmp_path: Path, public_url: str
) -> None:
    """info.json is cached publicly for a day: its id and redirects follow DISAN_PUBLIC_URL."""
    with start_adapter(tmp_path, public_url) as (base, _):
        root = public_url.rstrip("/")
        info = requests.get(f"{base}/iiif/image/3/abc/info.json", headers=FORGED, timeout=5)
        assert info.status_code == 200
        assert info.json()["id"] == f"{root}/iiif/image/3/abc"
        redirect = requests.get(
            f"{base}/iiif/image/3/abc", headers=FORGED, allow_redirects=False, timeout=5
        )
        assert redirect.status_code == 303
        assert redirect.headers["Location"] == f"{root}/iiif/image/3/abc/info.json"


def test_tiles_pass_through_unchanged(adapter: Any) -> None:
    base, cantaloupe = adapter
    response = requests.get(f"{base}/iiif/image/3/abc/0,0,512,512/512,/0/default.jpg", timeout=5)
    assert response.status_code == 200 and response.content == b"\xff\xd8jpeg"
    assert cantaloupe.paths == ["/iiif/3/abc/0,0,512,512/512,/0/default.jpg"]


def test_redirects_name_the_public_path(adapter: Any) -> None:
    base, _ = adapter
    response = requests.get(
        f"{base}/iiif/image/3/abc",
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/iiif/image/3/abc/info.json")


def test_other_paths_are_not_served(adapter: Any) -> None:
    base, cantaloupe = adapter
    assert requests.get(f"{base}/tasks", timeout=5).status_code == 404
    assert cantaloupe.paths == []
