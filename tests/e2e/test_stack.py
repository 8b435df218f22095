"""`disan up`, `disan status`, `disan down` as a newcomer runs them, on ports of their own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from disan.cli.infra import psql_superuser
from disan.registry import SERVICES
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # `disan up` on a loaded machine

DISAN = str(Path(sys.executable).parent / "disan")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory):
    ports = {
        "DISAN_FRONT_PORT": free_port(),
        "DISAN_GATEWAY_PORT": free_port(),
        "DISAN_IMAGESERVER_PORT": free_port(),
        **{
            f"DISAN_OPS_PORT_{name.upper()}": free_port()
            for name in (
                "gateway",
                "catalogue",
                "media",
                "iiif",
                "access",
                "notifications",
                "imageserver",
            )
        },
    }
    s3 = free_port()
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("DISAN_"):
            del env[key]
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        {
            "DISAN_HOME": str(tmp_path_factory.mktemp("disan-home")),
            "DISAN_DB_NAME": "disan_stacktest",
            "DISAN_AMQP_VHOST": "disan_stacktest",
            "DISAN_S3_ENDPOINT": f"127.0.0.1:{s3}",
            "DISAN_PUBLIC_URL": f"http://127.0.0.1:{ports['DISAN_FRONT_PORT']}",
        }
    )
    env["_PORTS"] = json.dumps(ports | {"S3": s3})
    # a newcomer's first `disan up` meets no database: start from none
    psql_superuser("DROP DATABASE IF EXISTS disan_stacktest WITH (FORCE)")
    return env


def test_up_status_down(stack_env):
    ports = json.loads(stack_env.pop("_PORTS"))
    up = subprocess.run(
        [DISAN, "up", "--timeout", "120"],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        front = f"http://127.0.0.1:{ports['DISAN_FRONT_PORT']}"
        assert f"{front}/api/v1/openapi.json" in up.stdout
        assert "admin" in up.stdout

        r = requests.get(f"{front}/readyz", timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        doc = requests.get(f"{front}/api/v1/openapi.json", timeout=10).json()
        assert doc["openapi"].startswith("3.1")
        ops = f"http://127.0.0.1:{ports['DISAN_OPS_PORT_GATEWAY']}"
        metrics = requests.get(f"{ops}/metrics", timeout=10).text
        assert 'disan_gateway_entrypoint_seconds_count{entrypoint="readyz"}' in metrics
        missing = requests.get(f"{front}/api/v1/nothing-here", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

        status = subprocess.run(
            [DISAN, "status", "--json"], env=stack_env, capture_output=True, text=True, timeout=120
        )
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert set(report["services"]) == set(SERVICES) | {"front"}
        assert all(v == "ok" for v in report["services"].values()), report
        assert "disan.dead_letters" in report["queues"] and "disan.unrouted" in report["queues"]
        assert all(state == "RUNNING" for state in report["processes"].values()), report
    finally:
        down = subprocess.run(
            [DISAN, "down"], env=stack_env, capture_output=True, text=True, timeout=180
        )
    assert down.returncode == 0, down.stdout + down.stderr
    for name, port in ports.items():
        assert not listening(port), f"{name} still listening on {port} after disan down"
    # it did not start PostgreSQL, RabbitMQ or Redis, so it must leave them running
    assert listening(5432) and listening(5672) and listening(6379)
