"""The compose front (deploy/compose/nginx/default.conf.template) in a real nginx: /iiif/image/
goes to the image server, a public manifest whose file the iiif service wrote is answered from
it (ADR 0061), everything else goes to the gateway, with the forwarding headers the gateway's
trusted-proxy logic and the image server's ids rely on."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from services.iiif.static import manifest_file, write_atomically
from tests.conftest import free_port, wait_port
from tests.unit.deploy.test_nginx import render_front

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

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

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
    # nginx workers run as another user (root's master): files where anyone may traverse
    static = Path(tempfile.mkdtemp(prefix="disan-front-static-"))
    static.chmod(0o755)
    env = {
        "DISAN_IMAGE_UPSTREAM": f"127.0.0.1:{images.port}",
        "DISAN_GATEWAY_UPSTREAM": f"127.0.0.1:{gateway.port}",
        "DISAN_IIIF_STATIC_ROOT": str(static),
    }
    server = render_front(tmp_path, env).replace("listen 8000;", f"listen 127.0.0.1:{port};")
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
        yield f"http://127.0.0.1:{port}", static
    finally:
        proc.terminate()
        proc.wait(10)
        gateway.close()
        images.close()
        shutil.rmtree(static, ignore_errors=True)


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
def test_front_routes_by_path(front: Any, path: str, upstream: str) -> None:
    answer = requests.get(
        front[0] + path, headers={"Host": "heritage.example.org"}, timeout=5
    ).json()
    assert answer["upstream"] == upstream and answer["path"] == path
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["host"] == "heritage.example.org"
    assert headers["x-forwarded-host"] == "heritage.example.org"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"


def test_front_health(front: Any) -> None:
    assert requests.get(front[0] + "/nginx-health", timeout=5).text == "ok\n"


def test_a_mirrored_manifest_is_answered_from_its_file_else_by_the_gateway(front: Any) -> None:
    url, static = front
    public, other = str(uuid.uuid4()), str(uuid.uuid4())
    body = json.dumps({"id": public, "type": "Manifest"})
    write_atomically(manifest_file(static, public), body)  # as the iiif service writes it
    path = f"/iiif/presentation/3/records/{public}/manifest"

    answer = requests.get(url + path, timeout=5)
    assert answer.status_code == 200 and answer.text == body
    assert answer.headers["Content-Type"] == (
        'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "public, max-age=30"
    assert requests.head(url + path, timeout=5).status_code == 200
    # no file (restricted, withdrawn, not yet mirrored): the gateway decides
    missing = f"/iiif/presentation/3/records/{other}/manifest"
    assert requests.get(url + missing, timeout=5).json()["upstream"] == "gateway"
    # other methods on a mirrored manifest go to the gateway too
    posted = requests.post(url + path, data=b"", timeout=5).json()
    assert posted["upstream"] == "gateway" and posted["path"] == path
    # the file is removed when the manifest stops being public: the gateway again
    manifest_file(static, public).unlink()
    assert requests.get(url + path, timeout=5).json()["upstream"] == "gateway"
