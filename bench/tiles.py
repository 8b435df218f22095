"""Tiles per second: the Disan image server beside IIPImage (behind nginx FastCGI), same image,
same tile URL list, same client (wrk), loopback only.

Run:  .venv/bin/python bench/tiles.py [--duration 10] [--connections 16] [--json results.json]

Needs Debian ``wrk``, ``nginx`` and ``iipimage-server`` (``--skip-iip`` runs Disan alone).
One pyramidal JPEG TIFF (``--width`` x ``--height``, 512-px tiles, written by pyvips as the
media service writes derivatives) is served by both: Disan reads it from S3 (moto, started
here) through its source cache; IIPImage reads the same file from disk. Scenarios:

* ``cold``: random 512² and 256² viewer tiles at scale factors 1-8, no tile cache on either;
* ``warm``: the same list after a warm-up run, tile caches on (Disan's default size,
  IIPImage's ``MAX_IMAGE_CACHE_SIZE=512`` MB);
* ``passthrough``: only interior 512² tiles aligned on the stored pyramid (Disan sends the
  stored JPEG bytes; IIPImage decodes and re-encodes), no tile cache.

Peak memory is the summed RSS of each server's processes (nginx and iipsrv for IIPImage),
sampled during the run. At the end the official validator (``iiif-validate.py``, level 2,
Image API 3.0 and 2.x) runs against a Disan server started as above, so one run reports speed,
memory and conformance together (``--skip-validator`` leaves it out). Never run inside tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
IIPSRV = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
ASSET = "bench-0000-4000-8000-000000000001"
TILE = 512

WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_TILES")) do paths[#paths + 1] = line end
local counter = 1
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end
function init(args)
  counter = offset or 0
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "bytes": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.bytes))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def make_pyramid(path: Path, width: int, height: int) -> None:
    """A photo-like image (gradient plus noise), so tiles compress like real ones."""
    import pyvips

    xy = pyvips.Image.xyz(width, height)
    red = xy[0] * 255 / width
    green = xy[1] * 255 / height
    blue = (xy[0] + xy[1]) % 256
    noise = pyvips.Image.gaussnoise(width, height, sigma=18)
    image = red.bandjoin([green, blue]) + noise
    image = image.cast("uchar").copy(interpretation="srgb")
    image.tiffsave(
        str(path),
        tile=True,
        pyramid=True,
        compression="jpeg",
        Q=85,
        tile_width=TILE,
        tile_height=TILE,
    )


def tile_regions(width: int, height: int, count: int, seed: int, aligned_only: bool) -> list[str]:
    """IIIF ``region/size`` of random viewer tiles (as OpenSeadragon computes them)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        scale = rng.choice([1, 2, 4, 8]) if not aligned_only else rng.choice([1, 2, 4])
        tile = TILE if aligned_only else rng.choice([512, 256])
        span = tile * scale
        columns, rows = -(-width // span), -(-height // span)
        if aligned_only:
            level_w, level_h = width // scale, height // scale
            columns, rows = level_w // tile, level_h // tile
            if columns < 1 or rows < 1:
                continue
        col, row = rng.randrange(columns), rng.randrange(rows)
        x, y = col * span, row * span
        w, h = min(span, width - x), min(span, height - y)
        out.append(f"{x},{y},{w},{h}/{-(-w // scale)},{-(-h // scale)}")
    return out


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def family(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class MemorySampler(threading.Thread):
    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots, self.peak, self._done = roots, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            pids = [pid for root in self.roots for pid in family(root)]
            self.peak = max(self.peak, rss_of(pids))
            self._done.wait(0.2)

    def stop(self) -> int:
        self._done.set()
        self.join(2)
        return self.peak


def wrk(
    base: str, paths: list[str], duration: float, connections: int, threads: int, workdir: Path
) -> dict[str, Any]:
    script = workdir / "tiles.lua"
    script.write_text(WRK_SCRIPT)
    listing = workdir / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    result = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, int(duration))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_TILES": str(listing)},
        timeout=duration + 60,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            stats = json.loads(line[6:])
            stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
            return stats
    raise RuntimeError(f"wrk failed: {result.stdout}\n{result.stderr}")


# the two servers ---------------------------------------------------------------------------
class Disan:
    name = "disan"

    def __init__(self, workdir: Path, s3_port: int, tile_cache_mb: int, workers: int) -> None:
        self.port, self.ops = free_port(), free_port()
        env = {
            **os.environ,
            "DISAN_DATABASE_URL": "postgresql://bench:bench@127.0.0.1:5432/bench",
            "DISAN_S3_ENDPOINT": f"127.0.0.1:{s3_port}",
            "DISAN_S3_ACCESS_KEY": "bench",
            "DISAN_S3_SECRET_KEY": "bench",
            "DISAN_IMAGESERVER_PORT": str(self.port),
            "DISAN_OPS_PORT_IMAGESERVER": str(self.ops),
            "DISAN_IMAGESERVER_CACHE_DIR": str(workdir / "disan-cache"),
            "DISAN_IMAGESERVER_TILE_CACHE_MB": str(tile_cache_mb),
            "DISAN_IMAGESERVER_WORKERS": str(workers),
            "DISAN_IMAGESERVER_PURGE_EVENTS": "false",
            "DISAN_IMAGESERVER_ACCESS": "public",
            "PYTHONWARNINGS": "ignore",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.imageserver"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "disan.log").open("ab"),
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.base}/healthz")

    def path(self, region_size: str) -> str:
        return f"/iiif/image/3/{ASSET}/{region_size}/0/default.jpg"

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream iip {{ {servers} }}
  server {{
    listen 127.0.0.1:{port};
    location /fcgi-bin/iipsrv.fcgi {{
      fastcgi_pass iip;
      fastcgi_param PATH_INFO $fastcgi_script_name;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param QUERY_STRING $query_string;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_param SERVER_PROTOCOL $server_protocol;
      fastcgi_param REQUEST_URI $request_uri;
      fastcgi_param SERVER_NAME $host;
      fastcgi_param SERVER_PORT $server_port;
    }}
  }}
}}
"""


class IIPImage:
    name = "iipimage"

    def __init__(self, workdir: Path, image_dir: Path, cache_mb: int, workers: int) -> None:
        self.port = free_port()
        fcgi_ports = [free_port() for _ in range(workers)]
        env = {
            **os.environ,
            "FILESYSTEM_PREFIX": f"{image_dir}/",
            "MAX_IMAGE_CACHE_SIZE": str(cache_mb),
            "JPEG_QUALITY": "85",
            "IIIF_VERSION": "3",
            "CORS": "*",
            "MAX_CVT": "10000",
            "VERBOSITY": "0",
            "LOGFILE": str(workdir / "iipsrv.log"),
        }
        self.iips = [
            subprocess.Popen(
                [str(IIPSRV), "--bind", f"127.0.0.1:{port}", "--backlog", "1024"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port in fcgi_ports
        ]
        ngx = workdir / f"nginx-{self.port}"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (ngx / sub).mkdir(parents=True, exist_ok=True)
        servers = " ".join(f"server 127.0.0.1:{port};" for port in fcgi_ports)
        conf = ngx / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(workers=workers, dir=ngx, servers=servers, port=self.port)
        )
        self.nginx = subprocess.Popen(
            ["nginx", "-p", str(ngx), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.base}{self.path('0,0,256,256/256,256')}")

    def path(self, region_size: str) -> str:
        return f"/fcgi-bin/iipsrv.fcgi?IIIF=bench.tif/{region_size}/0/default.jpg"

    def pids(self) -> list[int]:
        return [self.nginx.pid, *(p.pid for p in self.iips)]

    def stop(self) -> None:
        for proc in (self.nginx, *self.iips):
            proc.send_signal(signal.SIGTERM)
        for proc in (self.nginx, *self.iips):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def check_same_image(disan: Disan, iip: IIPImage, region_size: str) -> dict[str, Any]:
    """Both servers answer the same tile with a JPEG of the same size."""
    import io

    import requests
    from PIL import Image

    sizes = []
    for server in (disan, iip):
        response = requests.get(server.base + server.path(region_size), timeout=10)
        response.raise_for_status()
        sizes.append(Image.open(io.BytesIO(response.content)).size)
    return {"tile": region_size, "disan": sizes[0], "iipimage": sizes[1]}


def validate(workdir: Path, s3_port: int, store: Any) -> dict[str, Any]:
    """The official validator (PyPI ``iiif-validator``, level 2, Image API 3.0 and 2.x) against
    a Disan server as the benchmark runs it, serving the validator's own test image."""
    script = BIN / "iiif-validate.py"
    if not script.exists():
        return {"skipped": f"{script} is missing (pip install iiif-validator)"}
    from shared.buckets import DERIVATIVES_BUCKET, derivative_key
    from tests.integration.imageserver.support import (
        VALIDATOR_ID,
        validator_image,
        write_pyramid,
    )

    pyramid = write_pyramid(validator_image(), workdir / "validator.tif")
    store.put_bytes(DERIVATIVES_BUCKET, derivative_key(VALIDATOR_ID), pyramid.read_bytes())
    server = Disan(workdir, s3_port, 256, 2)
    report: dict[str, Any] = {}
    try:
        for version, prefix in (("3.0", "iiif/image/3"), ("2.0", "iiif/image/2")):
            done = subprocess.run(
                [
                    sys.executable,
                    str(script),
                    "-s",
                    f"127.0.0.1:{server.port}",
                    "-p",
                    prefix,
                    "-i",
                    VALIDATOR_ID,
                    f"--version={version}",
                    "--level=2",
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            lines = (done.stdout + done.stderr).splitlines()
            summary = next((line for line in reversed(lines) if line.startswith("Done")), "")
            # the validator's exit code is its number of failures
            report[version] = {
                "failures": done.returncode,
                "summary": summary or (lines[-1] if lines else "no output"),
            }
    finally:
        server.stop()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes, each side")
    parser.add_argument("--width", type=int, default=8000)
    parser.add_argument("--height", type=int, default=6000)
    parser.add_argument("--tiles", type=int, default=2000, help="URLs in the list")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-iip", action="store_true")
    parser.add_argument(
        "--scenarios", default="cold,warm,passthrough", help="comma-separated subset to run"
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--skip-validator", action="store_true", help="do not run iiif-validate.py at the end"
    )
    args = parser.parse_args()

    missing = [tool for tool in ("wrk",) if shutil.which(tool) is None]
    if not args.skip_iip:
        missing += [t for t in ("nginx",) if shutil.which(t) is None]
        if not IIPSRV.exists():
            missing.append("iipimage-server")
    if missing:
        print(f"missing Debian packages: {' '.join(missing)}", file=sys.stderr)
        return 2

    from shared.buckets import DERIVATIVES_BUCKET, derivative_key
    from shared.config import S3Settings
    from shared.storage import ObjectStore

    workdir = Path(tempfile.mkdtemp(prefix="disan-bench-tiles-"))
    image_dir = workdir / "images"
    image_dir.mkdir()
    pyramid = image_dir / "bench.tif"
    started = time.monotonic()
    make_pyramid(pyramid, args.width, args.height)
    print(
        f"pyramid {args.width}x{args.height}, {pyramid.stat().st_size / 1e6:.1f} MB, "
        f"made in {time.monotonic() - started:.1f}s"
    )

    s3_port = free_port()
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, Any] = {
        "image": {"width": args.width, "height": args.height, "tile": TILE},
        "client": {
            "tool": "wrk",
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
        },
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "runs": [],
    }
    try:
        wait_http(f"http://127.0.0.1:{s3_port}/")
        store = ObjectStore(S3Settings(f"127.0.0.1:{s3_port}", "bench", "bench"))
        store.ensure_bucket(DERIVATIVES_BUCKET)
        store.put_bytes(DERIVATIVES_BUCKET, derivative_key(ASSET), pyramid.read_bytes())

        mixed = tile_regions(args.width, args.height, args.tiles, args.seed, aligned_only=False)
        aligned = tile_regions(args.width, args.height, args.tiles, args.seed, aligned_only=True)
        wanted = set(args.scenarios.split(","))
        scenarios = [("cold", mixed, False), ("warm", mixed, True), ("passthrough", aligned, False)]
        scenarios = [item for item in scenarios if item[0] in wanted]
        for scenario, regions, cached in scenarios:
            servers: list[Any] = [
                lambda c=cached: Disan(workdir, s3_port, 256 if c else 0, args.workers)
            ]
            if not args.skip_iip:
                servers.append(
                    lambda c=cached: IIPImage(workdir, image_dir, 512 if c else 0, args.workers)
                )
            for make in servers:
                server = make()
                try:
                    paths = [server.path(r) for r in regions]
                    # open the image (Disan: fetch from S3 into the source cache) before timing
                    wait_http(server.base + paths[0])
                    if cached:
                        wrk(
                            server.base,
                            paths,
                            max(5.0, args.duration / 2),
                            args.connections,
                            args.threads,
                            workdir,
                        )
                    sampler = MemorySampler(server.pids())
                    sampler.start()
                    stats = wrk(
                        server.base, paths, args.duration, args.connections, args.threads, workdir
                    )
                    stats["peak_rss_mb"] = round(sampler.stop() / 1e6, 1)
                    stats.update({"server": server.name, "scenario": scenario})
                    results["runs"].append(stats)
                    print(
                        f"{scenario:12} {server.name:9} {stats['rps']:9.0f} req/s  "
                        f"p50 {stats['p50_ms']:7.2f} ms  p99 {stats['p99_ms']:7.2f} ms  "
                        f"errors {stats['errors'] + stats['non2xx']}  "
                        f"RSS {stats['peak_rss_mb']} MB",
                        flush=True,
                    )
                finally:
                    server.stop()
        if not args.skip_iip:
            disan = Disan(workdir, s3_port, 0, 1)
            iip = IIPImage(workdir, image_dir, 0, 1)
            try:
                results["same_tiles"] = [check_same_image(disan, iip, r) for r in mixed[:20]]
            finally:
                disan.stop()
                iip.stop()
        if not args.skip_validator:
            results["validator"] = validate(workdir, s3_port, store)
    finally:
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(
        f"{'scenario':12} {'server':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'peak RSS MB':>12} {'vs IIPImage':>12}"
    )
    by_key = {(r["scenario"], r["server"]): r for r in results["runs"]}
    for run in results["runs"]:
        other = by_key.get((run["scenario"], "iipimage"))
        ratio = f"{run['rps'] / other['rps']:.2f}x" if other and run["server"] == "disan" else ""
        run["ratio_vs_iipimage"] = (
            round(run["rps"] / other["rps"], 2) if other and run["server"] == "disan" else None
        )
        print(
            f"{run['scenario']:12} {run['server']:9} {run['rps']:9.0f} {run['p50_ms']:8.2f} "
            f"{run['p99_ms']:8.2f} {run['errors'] + run['non2xx']:7d} "
            f"{run['peak_rss_mb']:12.1f} {ratio:>12}"
        )
    for version, outcome in (results.get("validator") or {}).items():
        if isinstance(outcome, dict):
            print(f"iiif-validate.py --version={version} --level=2: {outcome['summary']}")
        else:
            print(f"iiif-validate.py: {outcome}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
