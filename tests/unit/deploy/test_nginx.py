"""The nginx configurations of the compose front and the Cantaloupe adapter pass ``nginx -t``
(rendered as the nginx image's envsubst step renders them; hosts mapped to loopback so that
name resolution at check time needs no network)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.conftest import DUMMY_ENV, ROOT

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _envsubst(text: str, env: dict[str, str]) -> str:
    """Like the image's envsubst step: only variables that are defined are replaced."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), text)


def _check(server_conf: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    for sub in ("logs", "tmp"):
        (tmp_path / sub).mkdir(exist_ok=True)
    (tmp_path / "server.conf").write_text(server_conf, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        "events {}\nhttp {\n"
        f"  client_body_temp_path {tmp_path}/tmp/body;\n"
        f"  proxy_temp_path {tmp_path}/tmp/proxy;\n"
        f"  include {tmp_path}/server.conf;\n}}\n",
        encoding="utf-8",
    )
    assert NGINX is not None
    return subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(autouse=True)
def _nginx() -> None:
    if NGINX is None:
        pytest.skip("Debian package nginx is not installed (disan infra installs it)")


FRONT_ENV = {
    "DISAN_IMAGE_UPSTREAM": "127.0.0.1:8002",
    "DISAN_GATEWAY_UPSTREAM": "127.0.0.1:8001",
    "DISAN_IIIF_STATIC_ROOT": "/var/lib/disan/iiif-static",
}


def render_front(tmp_path: Path, env: dict[str, str]) -> str:
    """The compose front as the nginx image renders its two templates (the manifest rule into
    ``conf.d/iiif-manifest-files.inc``, included by the server), the include pointed here."""
    rule = (ROOT / "deploy/compose/nginx/iiif-manifest-files.conf.template").read_text()
    (tmp_path / "iiif-manifest-files.inc").write_text(_envsubst(rule, env), encoding="utf-8")
    text = (ROOT / "deploy/compose/nginx/default.conf.template").read_text(encoding="utf-8")
    include = "include /etc/nginx/conf.d/iiif-manifest-files.inc;"
    assert include in text
    return _envsubst(text, env).replace(include, f"include {tmp_path}/iiif-manifest-files.inc;")


def test_front_configuration_is_valid_nginx(tmp_path: Path) -> None:
    conf = render_front(tmp_path, FRONT_ENV).replace("listen 8000;", "listen 127.0.0.1:18000;")
    assert "${DISAN" not in conf + (tmp_path / "iiif-manifest-files.inc").read_text()
    done = _check(conf, tmp_path)
    assert done.returncode == 0, done.stderr


ADAPTER_ENV = {"CANTALOUPE_UPSTREAM": "127.0.0.1:8182", "DISAN_PUBLIC_URL": "https://x.example"}


def render_adapter(env: dict[str, str]) -> str:
    text = (ROOT / "deploy/cantaloupe/iiif-paths.conf.template").read_text(encoding="utf-8")
    return _envsubst(text, env).replace("listen 8002;", "listen 127.0.0.1:18002;")


def test_cantaloupe_adapter_configuration_is_valid_nginx(tmp_path: Path) -> None:
    done = _check(render_adapter(ADAPTER_ENV), tmp_path)
    assert done.returncode == 0, done.stderr


def test_cantaloupe_adapter_does_not_start_without_the_public_url(tmp_path: Path) -> None:
    """Its ids come from DISAN_PUBLIC_URL only (ADR 0093): unset, nginx refuses to start."""
    done = _check(render_adapter({"CANTALOUPE_UPSTREAM": "127.0.0.1:8182"}), tmp_path)
    assert done.returncode != 0


def _stack_settings(static_dir: str) -> Any:
    from shared.config import load_settings

    env = dict(
        DUMMY_ENV,
        DISAN_ENV="development",
        DISAN_BIND_HOST="127.0.0.1",
        DISAN_FRONT_PORT="18000",
        DISAN_IIIF_STATIC_DIR=static_dir,
        DISAN_CONFIG=str(ROOT / "deploy/config/disan.yaml"),
        DISAN_DATABASE_URL="postgresql://disan:x@127.0.0.1:5432/disan",
        DISAN_AMQP_URI="amqp://guest:guest@127.0.0.1:5672/disan",
    )
    return load_settings(env=env)


def _directives(conf: str) -> list[str]:
    """Each line, comment lines and blank lines left out, whitespace normalised."""
    lines = (line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    return [" ".join(line.split()) for line in lines if line.strip()]


@pytest.mark.parametrize("static_dir", ["/var/lib/disan/iiif-static", ""])
def test_disan_ups_front_is_the_one_front_template_rendered(
    tmp_path: Path, static_dir: str
) -> None:
    """`disan up`'s nginx front routes as the compose front and the Helm chart's do: its server
    is deploy/compose/nginx/default.conf.template rendered, line for line (the listen address
    and the manifest rule's include aside), and it passes `nginx -t`."""
    from disan.cli.env import Paths
    from disan.cli.nginx import write_nginx_conf

    settings = _stack_settings(static_dir)
    p = Paths(tmp_path / "home")
    write_nginx_conf(settings, p)
    conf = (p.nginx / "nginx.conf").read_text(encoding="utf-8")
    http = settings.ports.http
    env = {
        "DISAN_GATEWAY_UPSTREAM": f"127.0.0.1:{http['gateway']}",
        "DISAN_IMAGE_UPSTREAM": f"127.0.0.1:{http['imageserver']}",
    }
    template = (ROOT / "deploy/compose/nginx/default.conf.template").read_text(encoding="utf-8")
    expected = _directives(
        _envsubst(template, env)
        .replace("listen 8000;", "listen 127.0.0.1:18000;")
        .replace("include /etc/nginx/conf.d/iiif-manifest-files.inc;", "")
    )
    got = _directives(conf)
    missing = [line for line in expected if line not in got]
    assert missing == []
    rule = "try_files $uri @gateway;" in conf and f"root {static_dir};" in conf
    assert rule == bool(static_dir)
    done = subprocess.run(
        [NGINX or "nginx", "-t", "-q", "-p", str(p.nginx), "-c", str(p.nginx / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
