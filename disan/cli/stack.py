"""The local stack: ``disan up``, ``down``, ``status``, ``infra``.

``up`` makes sure PostgreSQL, RabbitMQ and Redis run (installing Debian packages when missing),
creates the database, vhost, schemas, buckets and queues, then starts the S3 endpoint, every
service and the nginx front under supervisord, waits until all are ready and prints the URLs.
Each concern has its module: ``env`` (state folder, secrets), ``provision``, ``supervisor``,
``nginx``, ``apt``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from disan.cli import infra
from disan.cli.apt import RUNTIME_TOOLS, TEST_TOOLS, install_missing
from disan.cli.env import Paths, paths, stack_env
from disan.cli.nginx import write_nginx_conf
from disan.cli.provision import ensure_buckets, load_started, migrate_all, provision
from disan.cli.supervisor import (
    supervisor_running,
    supervisorctl,
    venv_bin,
    write_supervisor_conf,
)
from disan.registry import SERVICES
from shared.bus import DEAD_LETTERS, UNROUTED
from shared.config import Settings, load_settings


def _print(msg: str) -> None:
    print(msg, flush=True)


def readiness(settings: Settings) -> dict[str, str]:
    """Each service's /readyz answer (and the front's /healthz): ``ok`` or why not."""
    results: dict[str, str] = {}
    for name in SERVICES:
        port = settings.ports.ops.get(name)
        results[name] = _probe(f"http://{settings.bind_host}:{port}/readyz")
    results["front"] = _probe(f"http://{settings.bind_host}:{settings.ports.http['front']}/healthz")
    return results


def _probe(url: str) -> str:
    try:
        r = requests.get(url, timeout=5)
    except requests.RequestException as exc:
        return f"unreachable ({type(exc).__name__})"
    if r.status_code == 200:
        return "ok"
    try:
        return f"{r.status_code} {json.dumps(r.json().get('checks', r.json()))[:200]}"
    except ValueError:
        return f"{r.status_code}"


def up(timeout: float = 120) -> int:
    """Start the whole platform here and print its URLs: 0 once every part is ready, else 1."""
    p = paths()
    env = stack_env(p)
    os.environ.update(env)
    settings = load_settings(env=env)
    p.logs.mkdir(parents=True, exist_ok=True)
    _print("• infrastructure (PostgreSQL, RabbitMQ, Redis)")
    provision(settings, p)
    install_missing(RUNTIME_TOOLS)
    _print("• migrations and queues")
    migrate_all(settings)
    write_nginx_conf(settings, p)
    write_supervisor_conf(settings, p)
    if supervisor_running(p):
        _print("• supervisor already running: reloading programs")
        supervisorctl(p, "update")
        supervisorctl(p, "start", "all")
    else:
        _print("• starting the S3 endpoint, services and front under supervisord")
        subprocess.run([venv_bin("supervisord"), "-c", str(p.supervisor_conf)], env=env, check=True)
    _wait_s3(settings, timeout)
    ensure_buckets(settings)
    deadline = time.monotonic() + timeout
    while True:
        ready = readiness(settings)
        if all(v == "ok" for v in ready.values()):
            break
        if time.monotonic() > deadline:
            _print("✗ not ready in time: " + json.dumps(ready, ensure_ascii=False))
            _print(f"  logs: {p.logs}")
            return 1
        time.sleep(0.5)
    _print("• Hải Phòng demo data")
    try:
        from services.catalogue.demo import load_into_stack

        _print("  " + load_into_stack(settings))
    except Exception as exc:  # noqa: BLE001 - the platform runs; say what failed
        _print(f"✗ demo data not loaded: {type(exc).__name__}: {exc}")
    _print_urls(settings, env, p)
    return 0


def _print_urls(settings: Settings, env: dict[str, str], p: Paths) -> None:
    """What ``up`` prints last: where everything answers, the admin login, the logs."""
    base = settings.public_url.rstrip("/")
    _print("\nDisan is up.")
    _print(f"  API           {base}/api/v1/openapi.json")
    _print(f"  health        {base}/healthz  {base}/readyz")
    _print(f"  IIIF image    {base}/iiif/image/3/{{asset_id}}/info.json")
    _print(f"  IIIF manifests {base}/iiif/presentation/3/collections/all")
    _print(f"  IIIF changes  {base}/iiif/discovery/1/all-changes")
    _print(f"  S3 endpoint   http://{settings.s3.endpoint}")
    _print(
        f"  admin         {env.get('DISAN_ADMIN_USER', '')} / "
        f"{env.get('DISAN_ADMIN_PASSWORD', '(from DISAN_ADMIN_PASSWORD)')}"
    )
    _print(f"  logs          {p.logs}")
    _print("Stop with: disan down")


def _wait_s3(settings: Settings, timeout: float) -> None:
    s3 = urlsplit(f"//{settings.s3.endpoint}")
    infra.wait_port(s3.hostname or "127.0.0.1", s3.port or 9000, timeout, "the S3 endpoint")


def down() -> int:
    p = paths()
    if supervisor_running(p):
        _print("• stopping services, S3 endpoint and front")
        supervisorctl(p, "shutdown")
        deadline = time.monotonic() + 60
        while supervisor_running(p) and time.monotonic() < deadline:
            time.sleep(0.2)
    started = load_started(p)
    if started.get("redis"):
        _print("• stopping Redis (started by disan up)")
        infra.stop_redis()
    if started.get("rabbitmq"):
        _print("• stopping RabbitMQ (started by disan up)")
        infra.stop_rabbitmq()
    if started.get("postgresql"):
        _print("• stopping PostgreSQL (started by disan up)")
        infra.stop_postgres()
    if p.started.exists():
        p.started.unlink()
    _print("Disan is down.")
    return 0


def status(as_json: bool = False) -> int:
    p = paths()
    env = stack_env(p)
    settings = load_settings(env=env)
    report: dict[str, Any] = {"services": readiness(settings), "queues": {}}
    if supervisor_running(p):
        report["processes"] = {
            line.split()[0]: line.split()[1]
            for line in supervisorctl(p, "status").splitlines()
            if line.strip()
        }
    vhost = urlsplit(settings.amqp_uri).path.lstrip("/") or "/"
    queues = infra.list_queues(vhost)
    if queues is not None:
        report["queues"] = {
            k: {"messages": v[0], "consumers": v[1]}
            for k, v in queues.items()
            if k.startswith("disan.")
        }
    report["dead_letters"] = report["queues"].get(DEAD_LETTERS, {}).get("messages", 0)
    report["unrouted"] = report["queues"].get(UNROUTED, {}).get("messages", 0)
    healthy = all(v == "ok" for v in report["services"].values())
    if as_json:
        _print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print("services")
        for name, state in report["services"].items():
            proc = report.get("processes", {}).get(name, "")
            _print(f"  {'✓' if state == 'ok' else '✗'} {name:<14} {state} {proc}")
        _print("queues (messages / consumers)")
        for name, q in sorted(report["queues"].items()):
            _print(f"  {name:<48} {q['messages']:>7} / {q['consumers']}")
        _print(f"dead letters: {report['dead_letters']}   unrouted events: {report['unrouted']}")
    return 0 if healthy else 1


def infra_up() -> int:
    """The infrastructure and the Debian packages the test suite needs."""
    p = paths()
    env = stack_env(p)
    settings = load_settings(env=env)
    provision(settings)
    install_missing(TEST_TOOLS)
    _print("infrastructure ready: PostgreSQL, RabbitMQ, Redis; test tools present")
    return 0
