"""The Cantaloupe adapter (deploy/cantaloupe/iiif-paths.conf.template) in a real nginx, in front
of a stand-in Cantaloupe on loopback: Disan's public image URLs reach Cantaloupe's paths, and the
ids in info.json come back under the public paths."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_port

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


class StandInCantaloupe:
    """Answers like Cantaloupe 5: ids built from the X-Forwarded-* headers and its own path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802
                stand_in.paths.append(self.path)
                host = self.headers.get("X-Forwarded-Host") or self.headers.get("Host")
                proto = self.headers.get("X-Forwarded-Proto") or "http"
                match = re.fullmatch(r"/iiif/3/([^/]+)/info\.json", self.path)
                if match:
                    body = json.dumps(
                        {"id": f"{proto}://{host}/iiif/3/{match.group(1)}", "type": "ImageService3"}
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
                    self.send_header("Location", f"http://{host}{self.path}/info.json")
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


@pytest.fixture
def adapter(tmp_path: Path) -> Any:
    if NGINX is None:
        pytest.skip("Debian package nginx is not installed")
    cantaloupe = StandInCantaloupe()
    port = free_port()
    template = (ROOT / "deploy/cantaloupe/iiif-paths.conf.template").read_text()
    server = template.replace("${CANTALOUPE_UPSTREAM}", f"127.0.0.1:{cantaloupe.port}").replace(
        "listen 8002;", f"listen 127.0.0.1:{port};"
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


def test_public_info_json_url_reaches_cantaloupe_and_ids_stay_public(adapter: Any) -> None:
    base, cantaloupe = adapter
    asset = "0b8f3c1e-7c1a-4c55-9d55-2f3f5f1f9a10"
    response = requests.get(
        f"{base}/iiif/image/3/{asset}/info.json",
        headers={"Host": "heritage.example.org", "X-Forwarded-Proto": "https"},
        timeout=5,
    )
    assert response.status_code == 200
    assert cantaloupe.paths == [f"/iiif/3/{asset}/info.json"]
    assert response.json()["id"] == f"https://heritage.example.org/iiif/image/3/{asset}"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_tiles_pass_through_unchanged(adapter: Any) -> None:
    base, cantaloupe = adapter
    response = requests.get(f"{base}/iiif/image/3/abc/0,0,512,512/512,/0/default.jpg", timeout=5)
    assert response.status_code == 200 and response.content == b"\xff\xd8jpeg"
    assert cantaloupe.paths == ["/iiif/3/abc/0,0,512,512/512,/0/default.jpg"]


def test_redirects_name_the_public_path(adapter: Any) -> None:
    base, _ = adapter
    response = requests.get(
        f"{base}/iiif/image/3/abc",
        headers={"Host": "heritage.example.org"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/iiif/image/3/abc/info.json")


def test_other_paths_are_not_served(adapter: Any) -> None:
    base, cantaloupe = adapter
    assert requests.get(f"{base}/tasks", timeout=5).status_code == 404
    assert cantaloupe.paths == []
