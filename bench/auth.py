"""Added latency of authentication on a gateway request (p50/p99), with and without the cache.

Run:  .venv/bin/python bench/auth.py [--requests 2000] [--json results.json]

Starts an access service and two gateways in this process on the local PostgreSQL, RabbitMQ and
Redis: one gateway with the decision cache (bearer verification and API-key lookups kept for
``cache_seconds``), one with it off. Each gateway has three trivial routes that differ only in
what the gate does: ``/bench/open`` (no authentication at all: the baseline), ``/bench/public``
(anonymous, counted by the per-IP rate limiter) and ``/bench/staff`` (needs a role). Requests
are sequential over one keep-alive connection; "added" is a percentile minus the same
percentile of the baseline on the same gateway.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform as host  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.wrappers import Request  # noqa: E402

from services.gateway.http import SIGNED_IN, api  # noqa: E402
from services.gateway.service import GatewayService  # noqa: E402
from shared.config import load_settings  # noqa: E402


class BenchGateway(GatewayService):
    name = "bench_gateway"

    @api("GET", "/bench/open", summary="no authentication", auth=False)
    def bench_open(self, request: Request) -> Any:
        return {"ok": True}

    @api("GET", "/bench/public", summary="anonymous, rate-limited per IP")
    def bench_public(self, request: Request) -> Any:
        return {"ok": True}

    @api("GET", "/bench/staff", summary="signed-in callers", roles=SIGNED_IN)
    def bench_staff(self, request: Request) -> Any:
        return {"ok": True}


def settings_env(s3_port: int) -> dict[str, str]:
    from bench import bench_env

    env = bench_env()
    env.setdefault("DISAN_TOKEN_SECRET", "bench-token-secret-0123456789abcdefghijkl")
    env["DISAN_S3_ENDPOINT"] = f"127.0.0.1:{s3_port}"  # the gateway's media routes want S3
    return env


def start_s3() -> tuple[subprocess.Popen[bytes], int]:
    """A throwaway S3 endpoint (moto's) for this run only."""
    from tests.conftest import free_port, wait_port

    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(
    session: requests.Session, cases: list[tuple[str, str, dict[str, str]]], n: int
) -> dict[str, list[float]]:
    """Latencies of each case, requests interleaved so load changes hit every case alike."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for i in range(n + 50):
        for name, url, headers in cases:
            start = time.perf_counter()
            answer = session.get(url, headers=headers, timeout=30)
            elapsed = (time.perf_counter() - start) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"{url} answered {answer.status_code}: {answer.text}")
            if i >= 50:  # the first rounds warm connections and caches
                times[name].append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per case")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    s3, s3_port = start_s3()
    try:
        return run(args, s3_port)
    finally:
        s3.terminate()
        s3.wait(10)


def run(args: argparse.Namespace, s3_port: int) -> int:
    from tests.integration.access.conftest import start_platform

    settings = load_settings(env=settings_env(s3_port))
    from disan.cli.provision import provision

    provision(settings)
    limits = {"public_per_minute": 10_000_000, "api_key_per_minute": 10_000_000}
    cached, stop_cached = start_platform(settings, limits, gateway_base=BenchGateway)
    uncached, stop_uncached = start_platform(
        settings, limits, cache_seconds=0, gateway_base=BenchGateway
    )
    results: dict[str, Any] = {"requests_per_case": args.requests, "cases": []}
    try:
        token = cached.token_for("researcher")
        key = cached.new_key(name="bench partner")["key"]
        token_u = uncached.token_for("researcher")
        key_u = uncached.new_key(name="bench partner")["key"]
        for label, platform, bearer, api_key in (
            ("cache on", cached, token, key),
            ("cache off", uncached, token_u, key_u),
        ):
            session = requests.Session()
            base = platform.base
            measured = measure(
                session,
                [
                    ("no authentication (baseline)", f"{base}/bench/open", {}),
                    ("anonymous, public route", f"{base}/bench/public", {}),
                    ("bearer token", f"{base}/bench/staff", {"Authorization": f"Bearer {bearer}"}),
                    ("API key", f"{base}/bench/staff", {"X-API-Key": api_key}),
                ],
                args.requests,
            )
            cases = list(measured.items())
            baseline = measured["no authentication (baseline)"]
            b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
            for case, times in cases:
                p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
                results["cases"].append(
                    {
                        "cache": label,
                        "case": case,
                        "p50_ms": round(p50, 3),
                        "p99_ms": round(p99, 3),
                        "added_p50_ms": round(p50 - b50, 3),
                        "added_p99_ms": round(p99 - b99, 3),
                    }
                )
    finally:
        stop_uncached()
        stop_cached()
    results["host"] = {
        "python": sys.version.split()[0],
        "machine": host.machine(),
        "cpus": os.cpu_count(),
    }
    header = f"{'cache':<10} {'case':<30} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for row in results["cases"]:
        print(
            f"{row['cache']:<10} {row['case']:<30} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['added_p50_ms']:>8.2f} {row['added_p99_ms']:>8.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
