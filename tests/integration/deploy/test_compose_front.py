"""The compose front (deploy/compose/nginx/default.conf.template) in a real nginx: /iiif/image/
goes to the image server, everything else to the gateway, with the forwarding headers the
gateway's trusted-proxy logic and the image server's ids rely on."""

from __future__ import annotations

import json
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


class Echo:
    """An upstream that answers with its own name, the path and the headers it received."""

    def __init__(self, name: str) -> None:
        echo_name = name

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps(
                    {"upstream": echo_name, "path": self.path, "headers": dict(self.headers)}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
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
def front(tmp_path: Path) -> Any:
    if NGINX is None:
        pytest.skip("Debian package nginx is not installed")
    gateway, images = Echo("gateway"), Echo("imageserver")
    port = free_port()
    template = (ROOT / "deploy/compose/nginx/default.conf.template").read_text()
    server = (
        template.replace("${DISAN_IMAGE_UPSTREAM}", f"127.0.0.1:{images.port}")
        .replace("server gateway:8001;", f"server 127.0.0.1:{gateway.port};")
        .replace("listen 8000;", f"listen 127.0.0.1:{port};")
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
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        gateway.close()
        images.close()


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/iiif/image/3/abc/info.json", "imageserver"),
        ("/iiif/image/2/abc/full/max/0/default.jpg", "imageserver"),
        ("/iiif/presentation/3/records/r1/manifest", "gateway"),
        ("/api/v1/records?q=den", "gateway"),
        ("/", "gateway"),
        ("/oai?verb=Identify", "gateway"),
    ],
)
def test_front_routes_by_path(front: str, path: str, upstream: str) -> None:
    answer = requests.get(front + path, headers={"Host": "heritage.example.org"}, timeout=5).json()
    assert answer["upstream"] == upstream and answer["path"] == path
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["host"] == "heritage.example.org"
    assert headers["x-forwarded-host"] == "heritage.example.org"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"


def test_front_health(front: str) -> None:
    assert requests.get(front + "/nginx-health", timeout=5).text == "ok\n"
