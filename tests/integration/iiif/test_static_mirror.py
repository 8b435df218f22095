"""Public manifests mirrored as files for the nginx front (ADR 0061), on the real database and a
real nginx with the location ``disan up`` writes: files for public manifests only, removed on
restriction and withdrawal, and everything else (missing file, other methods) to the gateway.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from disan.cli.nginx import iiif_static_location
from services.iiif import manifests
from services.iiif import repository as repo
from services.iiif.static import StaticMirror, manifest_file
from shared.db import unit_of_work
from tests.conftest import free_port, wait_port
from tests.integration.iiif.conftest import ready_image
from tests.unit.iiif.presentation_samples import record

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1:8000"


def publish(engine, record_id: str, state: str = "published", version: int = 2) -> str:
    doc = record(id=record_id, heritage_class="tangible_site", documentary=None)
    now = datetime.now(UTC)
    with unit_of_work(engine) as db:
        repo.apply_record(db, record_id, state, version, "tangible_site", doc, False, now)
        if not repo.assets_of(db, record_id):
            ready_image(db, record_id)
        return manifests.refresh(db, BASE, record_id, None)


def restrict(engine, record_id: str, level: str) -> str:
    with unit_of_work(engine) as db:
        repo.apply_policy(db, record_id, level, None, datetime.now(UTC))
        return manifests.refresh(db, BASE, record_id, None)


def sync(engine, mirror: StaticMirror) -> int:
    with unit_of_work(engine) as db:
        return mirror.sync(db)


def test_public_manifests_are_mirrored_and_removed_when_restricted_or_withdrawn(
    iiif_engine, tmp_path
):
    engine = iiif_engine
    mirror = StaticMirror(tmp_path)
    stray = manifest_file(tmp_path, str(uuid.uuid4()))
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert publish(engine, first) == "created"
    sync(engine, mirror)  # the first sync is a full one
    assert not stray.exists()
    with unit_of_work(engine) as db:
        body = repo.get_manifest(db, first)["body"]
    assert manifest_file(tmp_path, first).read_text(encoding="utf-8") == body

    assert publish(engine, second) == "created"
    assert sync(engine, mirror) == 1
    assert manifest_file(tmp_path, second).exists()

    # restricted: the image gains its probe service; the file must go (it is no longer public)
    assert restrict(engine, first, "restricted") == "updated"
    sync(engine, mirror)
    assert not manifest_file(tmp_path, first).exists()
    restrict(engine, first, "public")
    sync(engine, mirror)
    assert manifest_file(tmp_path, first).exists()

    assert publish(engine, second, "withdrawn", 3) == "deleted"
    sync(engine, mirror)
    assert not manifest_file(tmp_path, second).exists()
    assert sync(engine, mirror) == 0  # nothing left queued


class Upstream(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.send_response(418)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"gateway")

    do_GET = do_OPTIONS = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.skipif(shutil.which("nginx") is None, reason="Debian package nginx is not installed")
def test_the_front_serves_mirrored_files_and_sends_the_rest_to_the_gateway(tmp_path):
    # nginx workers run as another user: the files live where anyone may traverse
    static = Path(tempfile.mkdtemp(prefix="disan-static-"))
    static.chmod(0o755)
    public_id, missing_id = str(uuid.uuid4()), str(uuid.uuid4())
    target = manifest_file(static, public_id)
    target.parent.mkdir(parents=True)
    target.write_text('{"type": "Manifest"}')
    for item in (static, *static.rglob("*")):
        item.chmod(0o755 if item.is_dir() else 0o644)
    upstream = ThreadingHTTPServer(("127.0.0.1", free_port()), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
  fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi;
  scgi_temp_path {tmp_path}/scgi;
  server {{
    listen 127.0.0.1:{port};
    {iiif_static_location(str(static), "@gateway")}
    location / {{ proxy_pass http://127.0.0.1:{upstream.server_port}; }}
    location @gateway {{ proxy_pass http://127.0.0.1:{upstream.server_port}; }}
  }}
}}
"""
    )
    nginx = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(conf)])
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}/iiif/presentation/3/records"
        hit = requests.get(f"{url}/{public_id}/manifest", timeout=5)
        assert hit.status_code == 200 and hit.json() == {"type": "Manifest"}
        assert hit.headers["Content-Type"].startswith("application/ld+json;profile=")
        assert hit.headers["Access-Control-Allow-Origin"] == "*"
        for method, path in (
            ("GET", f"{url}/{missing_id}/manifest"),  # restricted, withdrawn, not mirrored yet
            ("OPTIONS", f"{url}/{public_id}/manifest"),  # preflights are the gateway's
            ("POST", f"{url}/{public_id}/manifest"),
            ("GET", f"{url}/{public_id}/manifest/../../x"),
        ):
            answer = requests.request(method, path, timeout=5)
            assert answer.status_code == 418, (method, path, answer.status_code)
    finally:
        nginx.terminate()
        nginx.wait(10)
        upstream.shutdown()
        shutil.rmtree(static, ignore_errors=True)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="Debian package nginx is not installed")
def test_the_stacks_front_configuration_with_the_mirror_is_valid_nginx(settings, tmp_path):
    import dataclasses

    from disan.cli.env import Paths
    from disan.cli.nginx import write_nginx_conf

    mirrored = dataclasses.replace(
        settings, extra={**settings.extra, "iiif": {"static_dir": str(tmp_path / "static")}}
    )
    p = Paths(tmp_path / "home")
    write_nginx_conf(mirrored, p)
    conf = (p.nginx / "nginx.conf").read_text(encoding="utf-8")
    assert "try_files $uri @gateway" in conf and "location @gateway" in conf
    checked = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(p.nginx), "-c", str(p.nginx / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
