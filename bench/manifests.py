"""Cached manifest GETs (gateway → iiif service) beside nginx serving the same JSON as a file,
and the time to rebuild every manifest of 10,000 records.

Run:  .venv/bin/python bench/manifests.py [--seconds 10] [--records 10000] [--json out.json]

Starts, in this process, an access service, an iiif service and a gateway on the local
PostgreSQL, RabbitMQ and Redis, stores one published record's manifest (a record with one
image), and an nginx (Debian ``nginx``) serving the very bytes the gateway serves as a static
file. A load generator in separate processes (plain threads and keep-alive connections, no
eventlet) GETs the manifest for ``--seconds`` with ``--connections`` connections, on loopback.
The rebuild inserts ``--records`` published records (one image each) into a throwaway iiif
schema and runs the service's own ``rebuild_all`` (build with iiif-prezi3, store, activities).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform as host  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import text  # noqa: E402

from shared.config import load_settings  # noqa: E402

LOAD = r"""
import http.client, json, sys, threading, time
port, path, seconds, threads = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
lat, errors, lock = [], [0], threading.Lock()
def run():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    mine, bad = [], 0
    end = time.perf_counter() + seconds
    while True:
        t = time.perf_counter()
        if t >= end:
            break
        conn.request("GET", path, headers={"Accept": "application/ld+json"})
        r = conn.getresponse(); r.read()
        if r.status != 200:
            bad += 1
        mine.append(time.perf_counter() - t)
    with lock:
        lat.extend(mine); errors[0] += bad
ts = [threading.Thread(target=run) for _ in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps({"latencies": lat, "errors": errors[0], "seconds": seconds}))
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream gateway {{ server 127.0.0.1:{gateway_port}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location / {{
      default_type 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"';
      add_header Access-Control-Allow-Origin *;
      etag on;
    }}
  }}
  server {{
    listen 127.0.0.1:{front_port};
    {manifests}
    location / {{ proxy_pass http://gateway; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_set_header Host $http_host; }}
    location @gateway {{ proxy_pass http://gateway; proxy_http_version 1.1;
                        proxy_set_header Connection ""; proxy_set_header Host $http_host; }}
  }}
}}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load(port: int, path: str, seconds: float, processes: int, threads: int) -> dict[str, Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD, str(port), path, str(seconds), str(threads)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    lat: list[float] = []
    errors = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        result = json.loads(out)
        lat += result["latencies"]
        errors += result["errors"]
    return {
        "requests": len(lat),
        "errors": errors,
        "rps": round(len(lat) / seconds, 1),
        "p50_ms": round(percentile(lat, 0.5) * 1000, 2),
        "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
    }


def start_nginx(
    workdir: Path, name: str, body: bytes, static_dir: Path, gateway_port: int
) -> tuple[subprocess.Popen[bytes], int, int]:
    """nginx with a plain static server (the ceiling) and a front like ``disan up``'s."""
    from disan.cli.nginx import iiif_static_location
    from tests.conftest import free_port, wait_port

    port, front_port = free_port(), free_port()
    www = workdir / "www"
    target = www / name.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    for item in (workdir, *workdir.rglob("*")):  # nginx workers run as another user
        item.chmod(0o755 if item.is_dir() else 0o644)
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=workdir,
            port=port,
            front_port=front_port,
            gateway_port=gateway_port,
            manifests=iiif_static_location(str(static_dir), "@gateway"),
        )
    )
    proc = subprocess.Popen(
        ["nginx", "-p", str(workdir), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    wait_port(front_port)
    return proc, port, front_port


def sample_doc(record_id: str, n: int) -> dict[str, Any]:
    return {
        "id": record_id,
        "inventory_number": f"B-{n:06d}",
        "heritage_class": "tangible_site",
        "title": {"vi": f"Đình làng thử {n}", "en": f"Test communal house {n}"},
        "description": {"vi": "Mô tả " * 40, "en": "Description " * 40},
        "rank": {"level": "city", "decision": {"number": f"{n}/QĐ-UBND", "date": "2019-05-02"}},
        "location": {"lat": 20.85, "lon": 106.68, "approximate": True},
        "address": {"district_pre2025": "le_chan", "province_pre2025": "hai_phong"},
        "rights": {"statement": "https://rightsstatements.org/vocab/InC/1.0/"},
        "state": "published",
        "version": 2,
    }


def seed(engine: Any, count: int) -> list[str]:
    """``count`` published records with one ready 6000×4000 image each, in the projection."""
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with engine.begin() as conn:
        for start in range(0, count, 1000):
            chunk = ids[start : start + 1000]
            conn.execute(
                text(
                    "INSERT INTO records (record_id, state, version, heritage_class, doc, "
                    "updated_at) SELECT CAST(d->>'id' AS uuid), 'published', 2, 'tangible_site', "
                    "d, :now FROM jsonb_array_elements(CAST(:docs AS jsonb)) AS d"
                ),
                {
                    "docs": json.dumps([sample_doc(r, start + i) for i, r in enumerate(chunk)]),
                    "now": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO assets (asset_id, record_id, kind, format, status, width, height, "
                    "created_at, updated_at) SELECT gen_random_uuid(), CAST(r AS uuid), 'image', "
                    "'tif', 'ready', 6000, 4000, :now, :now FROM unnest(CAST(:ids AS text[])) r"
                ),
                {"ids": chunk, "now": now},
            )
    return ids


def rebuild_bench(settings: Any, count: int) -> dict[str, Any]:
    from disan.registry import SERVICES
    from services.iiif import manifests
    from shared.db import make_engine, migrate, unit_of_work

    schema = "bench_" + uuid.uuid4().hex[:8] + "_iiif"
    migrate(settings.database_url, schema, SERVICES["iiif"].migrations)
    engine = make_engine(settings.database_url, schema, pool_size=2)
    try:
        started = time.perf_counter()
        seed(engine, count)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        with unit_of_work(engine) as db:
            outcome = manifests.rebuild_all(db, settings.public_url.rstrip("/"), None)
        first = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("UPDATE records SET doc = jsonb_set(doc, '{title,en}', '\"x\"')"))
        started, cpu = time.perf_counter(), time.process_time()
        with unit_of_work(engine) as db:
            again = manifests.rebuild_all(db, settings.public_url.rstrip("/"), None)
        second, second_cpu = time.perf_counter() - started, time.process_time() - cpu
        return {
            "records": count,
            "seed_seconds": round(seeded, 1),
            "first_build_seconds": round(first, 1),
            "first_outcomes": outcome["outcomes"],
            "rebuild_seconds": round(second, 1),
            "rebuild_cpu_seconds_this_process": round(second_cpu, 1),
            "rebuild_outcomes": again["outcomes"],
            "per_second": round(count / second, 1),
        }
    finally:
        engine.dispose()
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def get_bench(settings: Any, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from nameko.containers import ServiceContainer

    from disan.registry import SERVICES
    from services.gateway.service import GatewayService
    from services.iiif import manifests
    from services.iiif.service import IiifService
    from shared.consumer import ReliableEventHandler
    from shared.db import Database, make_engine, migrate, unit_of_work
    from shared.outbox import OutboxRelay
    from shared.rpc_client import ServiceRpc
    from shared.runner import nameko_config
    from tests.integration.access.conftest import start_platform

    unique = "bench" + uuid.uuid4().hex[:8]
    schema = f"{unique}_iiif"
    migrate(settings.database_url, schema, SERVICES["iiif"].migrations)
    # RPC and timers only: no event handlers (this vhost's events are other stacks' business)
    quiet = {
        attr: (lambda self, *args, **kwargs: None)
        for attr in dir(IiifService)
        if any(
            isinstance(ep, ReliableEventHandler)
            for ep in getattr(getattr(IiifService, attr, None), "nameko_entrypoints", ())
        )
    }
    iiif_cls = type(
        "BenchIiif",
        (IiifService,),
        {"name": f"{unique}_iiif", "db": Database(schema), "relay": OutboxRelay(schema)} | quiet,
    )
    gateway = type(
        "BenchGateway",
        (GatewayService,),
        {"iiif": ServiceRpc(f"{unique}_iiif", "IIIF service", timeout=10.0)},
    )
    static_dir = workdir / "static"
    iiif_settings = dataclasses.replace(
        settings, extra={**settings.extra, "iiif": {"static_dir": str(static_dir)}}
    )
    config = nameko_config(iiif_settings, iiif_cls.name)
    config["DISAN_OPS_PORT"] = 0
    iiif = ServiceContainer(iiif_cls, config)
    iiif.start()
    limits = {"public_per_minute": 100_000_000, "api_key_per_minute": 100_000_000}
    platform, stop_platform = start_platform(settings, limits, gateway_base=gateway)
    engine = make_engine(settings.database_url, schema, pool_size=2)
    nginx = None
    try:
        record_id = seed(engine, 1)[0]
        with unit_of_work(engine) as db:
            manifests.refresh(db, settings.public_url.rstrip("/"), record_id, None)
        path = f"/iiif/presentation/3/records/{record_id}/manifest"
        first = requests.get(platform.url(path), timeout=10)
        first.raise_for_status()
        mirrored = static_dir / path.removeprefix("/")
        deadline = time.monotonic() + 10
        while not mirrored.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if mirrored.read_bytes() != first.content:
            raise SystemExit("the mirror holds other bytes than the gateway serves")
        gateway_port = int(platform.base.rsplit(":", 1)[1])
        nginx, nginx_port, front_port = start_nginx(
            workdir, path, first.content, static_dir, gateway_port
        )
        for port in (nginx_port, front_port):
            static = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            if static.content != first.content:
                raise SystemExit(f"nginx :{port} served {static.status_code}: {static.text[:300]}")
        results: dict[str, Any] = {"bytes": len(first.content)}
        for label, port in (
            ("gateway", gateway_port),
            ("front", front_port),
            ("nginx_static", nginx_port),
        ):
            load(port, path, 2, args.processes, args.threads)  # warm-up
            results[label] = load(port, path, args.seconds, args.processes, args.threads)
        ceiling = results["nginx_static"]["rps"]
        results["ratio_gateway"] = round(results["gateway"]["rps"] / ceiling, 3)
        results["ratio_front"] = round(results["front"]["rps"] / ceiling, 3)
        return results
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        stop_platform()
        iiif.stop()
        engine.dispose()
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--threads", type=int, default=8, help="connections per process")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--skip-get", action="store_true")
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if shutil.which("nginx") is None and not args.skip_get:
        raise SystemExit("nginx is not installed (Debian package nginx); use --skip-get")

    from bench.auth import settings_env, start_s3
    from disan.cli.provision import provision

    s3, s3_port = start_s3()
    results: dict[str, Any] = {}
    try:
        settings = load_settings(env=settings_env(s3_port))
        provision(settings)
        with tempfile.TemporaryDirectory(prefix="disan-bench-manifests-") as tmp:
            if not args.skip_get:
                results["cached_get"] = get_bench(settings, args, Path(tmp))
            if not args.skip_rebuild:
                results["rebuild"] = rebuild_bench(settings, args.records)
    finally:
        s3.terminate()
        s3.wait(10)
    results["host"] = {
        "python": sys.version.split()[0],
        "machine": host.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    get = results.get("cached_get")
    if get:
        print(f"cached manifest GET ({get['bytes']} bytes, {args.processes}×{args.threads} conns)")
        print(f"{'path':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for label, key in (
            ("gateway → iiif (RPC)", "gateway"),
            ("front: mirror file, else gateway", "front"),
            ("nginx static file (ceiling)", "nginx_static"),
        ):
            row = get[key]
            print(
                f"{label:<34} {row['rps']:>9.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                f"{row['errors']:>7}"
            )
        print(f"÷ nginx: gateway {get['ratio_gateway']}, front {get['ratio_front']} (goal ≥ 0.3)")
    rebuild = results.get("rebuild")
    if rebuild:
        print(
            f"rebuild of {rebuild['records']} manifests: {rebuild['rebuild_seconds']} s "
            f"({rebuild['per_second']}/s, {rebuild['rebuild_cpu_seconds_this_process']} s CPU in "
            f"this process; first build {rebuild['first_build_seconds']} s; goal < 300 s)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
