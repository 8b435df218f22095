"""`disan up`, `disan status`, `disan down` as a newcomer runs them, on ports of their own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from kombu import Connection

from disan.cli.env import Paths
from disan.cli.infra import psql_superuser
from disan.cli.supervisor import supervisorctl
from disan.registry import SERVICES
from shared.bus import events_exchange
from tests.conftest import free_port
from tests.integration.conftest import wait_until

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
    # the stack's own database and vhost, one per test slot: parallel runs never meet
    name = f"disan_stacktest{os.environ.get('DISAN_TEST_SLOT', '')}"
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("DISAN_"):
            del env[key]
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        {
            "DISAN_HOME": str(tmp_path_factory.mktemp("disan-home")),
            "DISAN_DB_NAME": name,
            "DISAN_AMQP_VHOST": name,
            "DISAN_S3_ENDPOINT": f"127.0.0.1:{s3}",
            "DISAN_PUBLIC_URL": f"http://127.0.0.1:{ports['DISAN_FRONT_PORT']}",
        }
    )
    env["_PORTS"] = json.dumps(ports | {"S3": s3})
    # a newcomer's first `disan up` meets no database: start from none
    psql_superuser(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
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
        junk_on_the_bus_stops_nothing(stack_env)
    finally:
        down = subprocess.run(
            [DISAN, "down"], env=stack_env, capture_output=True, text=True, timeout=180
        )
    assert down.returncode == 0, down.stdout + down.stderr
    for name, port in ports.items():
        assert not listening(port), f"{name} still listening on {port} after disan down"
    # it did not start PostgreSQL, RabbitMQ or Redis, so it must leave them running
    assert listening(5432) and listening(5672) and listening(6379)


def _status(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [DISAN, "status", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _pids(env: dict[str, str]) -> dict[str, str]:
    """Each supervised program's process id (``supervisorctl status``: name, state, pid N,)."""
    listing = supervisorctl(Paths(Path(env["DISAN_HOME"]).resolve()), "status")
    return {line.split()[0]: line.split()[3] for line in listing.splitlines() if " pid " in line}


def junk_on_the_bus_stops_nothing(env: dict[str, str]) -> None:
    """Issue 14 on the supervised stack: events of unknown types, known types with malformed
    data and bodies that are no JSON, published on the stack's vhost, are parked once; every
    service stays up in the same process (supervisord restarted none) and stays ready."""
    before = _pids(env)
    assert set(before) >= set(SERVICES), before
    parked = _status(env)["dead_letters"]
    uri = f"amqp://guest:guest@127.0.0.1:5672/{env['DISAN_AMQP_VHOST']}"
    junk: list[tuple[str, bytes]] = []
    for n in range(10):
        junk.append(("nope.nothing", json.dumps(envelope("nope.nothing", {"n": n})).encode()))
        bad = envelope("access.policy_changed", {"asset_id": "not a uuid", "rights": n})
        junk.append(("access.policy_changed", json.dumps(bad).encode()))
        junk.append(("access.policy_changed", b"{not json" + bytes([n])))
    with Connection(uri) as conn:
        producer = conn.Producer()
        for routing_key, body in junk:
            producer.publish(
                body,
                exchange=events_exchange,
                routing_key=routing_key,
                content_type="application/json",
                declare=[events_exchange],
            )

    def settled() -> int | None:
        report = _status(env)
        waiting = sum(
            q["messages"]
            for name, q in report["queues"].items()
            if name not in ("disan.dead_letters", "disan.unrouted")
        )
        return None if waiting else int(report["dead_letters"])

    first = wait_until(settled, timeout=120, interval=1.0)
    assert first > parked, "the junk was not parked"
    time.sleep(10)  # a crash loop would re-park and restart: nothing may move now
    again = _status(env)
    assert again["dead_letters"] == first, (first, again["dead_letters"])
    assert all(v == "ok" for v in again["services"].values()), again
    assert _pids(env) == before, (before, _pids(env))


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": "2026-12-07T00:00:00+00:00",
        "producer": "a stray program",
        "data": data,
    }
