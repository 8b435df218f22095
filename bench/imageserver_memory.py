"""Memory and CPU of one image server worker rendering tiles, per glibc malloc setting.

Run:  .venv/bin/python bench/imageserver_memory.py [--renders 600] [--json results.json]

Each setting runs in a fresh process (glibc reads ``MALLOC_*`` at start): one ``ImageApp``
(3 render threads, no tile cache, access ``public``) renders the same random 256²/512² tiles
at scale factors 1, 2, 4 of a 6000×4000 noisy JPEG pyramid, 6 requests at a time. Reported:
CPU seconds of the process (less sensitive than wall time to other work on the machine) and
its peak and final RSS. Never run inside tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = {
    "glibc default": {},
    "mmap threshold 128 KB (default)": {
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072",
    },
}
WIDTH, HEIGHT = 6000, 4000


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def child(pyramid: Path, renders: int, workdir: Path) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    from services.imageserver.app import ImageApp
    from services.imageserver.caches import SourceCache
    from services.imageserver.config import ImageServerConfig
    from services.imageserver.images import configure_vips

    configure_vips()

    def fetch(asset_id: str, target: Path) -> str:
        shutil.copyfile(pyramid, target)
        return "bench"

    config = ImageServerConfig(
        cache_dir=str(workdir),
        render_threads=3,
        tile_cache_mb=0,
        access="public",
        public_base_url="http://127.0.0.1:8002",
    )
    app = ImageApp(config, SourceCache(config.source_dir, 10**9, fetch))
    rnd = random.Random(7)
    paths = []
    for _ in range(renders):
        scale, tile = rnd.choice([1, 2, 4]), rnd.choice([256, 512])
        size = tile * scale
        x, y = rnd.randrange(0, WIDTH - size), rnd.randrange(0, HEIGHT - size)
        paths.append(f"/iiif/image/3/bench/{x},{y},{size},{size}/{tile},/0/default.jpg")

    async def one(path: str) -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "headers": [(b"host", b"bench")],
            "query_string": b"",
        }
        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path}: {sent[0]['status']}")

    async def run() -> dict[str, Any]:
        gate = asyncio.Semaphore(6)
        peak = 0

        async def guarded(path: str) -> None:
            nonlocal peak
            async with gate:
                await one(path)
            peak = max(peak, _rss_mb())

        await one(paths[0])
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(guarded(p) for p in paths))
        return {
            "cpu_s": round(time.process_time() - cpu, 2),
            "wall_s": round(time.perf_counter() - wall, 2),
            "peak_rss_mb": peak,
            "end_rss_mb": _rss_mb(),
        }

    try:
        return asyncio.run(run())
    finally:
        app.executor.shutdown()
        app.io_executor.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=600)
    parser.add_argument("--runs", type=int, default=2, help="runs per setting, interleaved")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        pyramid, renders, workdir = args.child
        print(json.dumps(child(Path(pyramid), int(renders), Path(workdir))))
        return 0

    import pyvips

    with tempfile.TemporaryDirectory(prefix="disan-bench-memory-") as tmp:
        pyramid = Path(tmp) / "pyramid.tif"
        noise = (pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=40) + 100).cast("uchar")
        image = noise.bandjoin([noise.rot180(), noise.fliphor()]).copy(interpretation="srgb")
        image.tiffsave(
            str(pyramid),
            tile=True,
            pyramid=True,
            compression="jpeg",
            Q=85,
            tile_width=512,
            tile_height=512,
        )
        results: list[dict[str, Any]] = []
        for run in range(args.runs):
            for name, extra in SETTINGS.items():
                workdir = Path(tmp) / f"w{run}{len(results)}"
                env = {**os.environ, "MALLOC_ARENA_MAX": "2", "PYTHONWARNINGS": "ignore", **extra}
                for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
                    if key not in extra:
                        env.pop(key, None)
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(pyramid),
                        str(args.renders),
                        str(workdir),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = {"setting": name, "run": run + 1, **json.loads(out.stdout.splitlines()[-1])}
                results.append(row)
        header = f"{'setting':34} {'run':>3} {'CPU s':>7} {'wall s':>7}"
        print(f"{header} {'peak RSS MB':>12} {'end RSS MB':>11}")
        for row in results:
            print(
                f"{row['setting']:34} {row['run']:>3} {row['cpu_s']:>7} {row['wall_s']:>7} "
                f"{row['peak_rss_mb']:>12} {row['end_rss_mb']:>11}"
            )
        if args.json:
            args.json.write_text(
                json.dumps({"renders": args.renders, "results": results}, indent=2)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
