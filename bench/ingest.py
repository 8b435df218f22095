"""Media ingest benchmark: a 100-megapixel image through the real upload path and worker.

Measures, in one run on the same file:
- upload throughput (MB/s) of ``POST /api/v1/records/{id}/media`` (streamed multipart);
- time from the end of the upload to ``derivative_ready`` (and the worker's own time);
- the ceiling: ``vips tiffsave --tile --pyramid --compression jpeg`` (Debian libvips-tools CLI)
  and pyvips ``tiffsave`` called directly (the library the worker uses), same options;
- peak RSS of the process running the media worker (sampled every 20 ms).

Runs against the test infrastructure (PostgreSQL, RabbitMQ, Redis as ``disan infra`` starts
them) with its own moto S3 server. Usage: ``.venv/bin/python bench/ingest.py [--mp 100]``.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

real_threading = eventlet.patcher.original("threading")
real_time = eventlet.patcher.original("time")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    def __init__(self) -> None:
        self.start = self.peak = rss_mb()
        self.stop = False
        self.thread = real_threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop:
            self.peak = max(self.peak, rss_mb())
            real_time.sleep(0.02)

    def done(self) -> None:
        self.stop = True
        self.thread.join()


def make_image(path: Path, megapixels: int) -> tuple[int, int]:
    import pyvips

    from tests.integration.media.support import gradient

    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5)
    height = megapixels * 1_000_000 // width
    tile = gradient(1021, 1021)
    noise = pyvips.Image.gaussnoise(1021, 1021, sigma=24).cast("uchar")
    tile = (tile.cast("short") + noise.cast("short") - 128).cast("uchar").copy_memory()
    image = tile.replicate(width // 1021 + 1, height // 1021 + 1).crop(0, 0, width, height)
    image.jpegsave(str(path), Q=90)
    return width, height


def ceiling(path: Path, workdir: Path) -> dict[str, float | None]:
    import pyvips

    out: dict[str, float | None] = {"vips_cli_seconds": None, "vips_cli_version": None}
    vips = shutil.which("vips")
    if vips:
        version = subprocess.run([vips, "--version"], capture_output=True, text=True).stdout
        started = time.monotonic()
        subprocess.run(
            [vips, "tiffsave", str(path), str(workdir / "cli.tif"), "--tile", "--pyramid",
             "--compression", "jpeg", "--tile-width", "512", "--tile-height", "512", "--Q", "85"],
            check=True,
        )  # fmt: skip
        out["vips_cli_seconds"] = time.monotonic() - started
        out["vips_cli_version"] = version.strip()  # type: ignore[assignment]
    started = time.monotonic()
    pyvips.Image.new_from_file(str(path), access="sequential").tiffsave(
        str(workdir / "lib.tif"), tile=True, tile_width=512, tile_height=512, pyramid=True,
        compression="jpeg", Q=85,
    )  # fmt: skip
    out["pyvips_seconds"] = time.monotonic() - started
    out["pyvips_version"] = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"  # type: ignore[assignment]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mp", type=int, default=100, help="megapixels of the test image")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from disan.cli.provision import provision
    from shared.config import load_settings
    from tests.conftest import BIN, free_port, wait_port
    from tests.integration.media.conftest import start_media_platform
    from tests.integration.media.test_heavy import StreamedBody, post

    port = free_port()
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workdir = Path(tempfile.mkdtemp(prefix="disan-bench-ingest-"))
    try:
        wait_port(port)
        env = {
            "DISAN_ENV": "test",
            "DISAN_DATABASE_URL": "postgresql://disan_test:disan_test@127.0.0.1:5432/disan_test",
            "DISAN_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/disan_bench",
            "DISAN_REDIS_URL": "redis://127.0.0.1:6379/15",
            "DISAN_S3_ENDPOINT": f"127.0.0.1:{port}",
            "DISAN_S3_ACCESS_KEY": "bench-access",
            "DISAN_S3_SECRET_KEY": "bench-secret",
            "DISAN_RELAY_IDLE_SECONDS": "0.02",
            "DISAN_TOKEN_SECRET": "bench-token-secret-0123456789abcdefghijklmnop",
        }
        settings = load_settings(env=env)
        provision(settings)
        source = workdir / "source.jpg"
        width, height = make_image(source, args.mp)
        size = source.stat().st_size
        print(f"image: {width}×{height} ({width * height / 1e6:.0f} MP), {size / 1e6:.1f} MB JPEG")
        limits = ceiling(source, workdir)

        platform, stop = start_media_platform(settings)
        try:
            record_id = platform.new_record()
            platform.token_for("cataloguer")
            rss = PeakRss()
            started = time.monotonic()
            with source.open("rb") as f:
                answer = post(platform, record_id, StreamedBody("source.jpg", f, size))
            uploaded = time.monotonic()
            assert answer.status_code == 202, answer.text
            asset_id = answer.json()["asset_id"]
            while not platform.media_outbox("media.derivative_ready", asset_id):
                if platform.asset_from_db(asset_id)["status"] == "failed":
                    raise SystemExit(f"derivative failed: {platform.asset(asset_id)}")
                real_time.sleep(0.05)
            ready = time.monotonic()
            rss.done()
            worker_seconds = platform.media_sql(
                "SELECT (detail->>'seconds')::float FROM preservation_events "
                "WHERE asset_id = :a AND event_type = 'derivative creation'",
                a=asset_id,
            )[0][0]
        finally:
            stop()
        figures = {
            "megapixels": round(width * height / 1e6),
            "file_mb": round(size / 1e6, 1),
            "upload_seconds": round(uploaded - started, 2),
            "upload_mb_per_s": round(size / 1e6 / (uploaded - started), 1),
            "upload_to_ready_seconds": round(ready - started, 2),
            "upload_end_to_ready_seconds": round(ready - uploaded, 2),
            "worker_seconds": round(worker_seconds, 2),
            "vips_cli_seconds": round(limits["vips_cli_seconds"] or 0, 2) or None,
            "vips_cli_version": limits["vips_cli_version"],
            "pyvips_seconds": round(limits["pyvips_seconds"] or 0, 2),
            "pyvips_version": limits["pyvips_version"],
            "peak_rss_mb": round(rss.peak),
            "rss_rise_mb": round(rss.peak - rss.start),
        }
        base = figures["pyvips_seconds"] or 1
        figures["ratio_worker_to_pyvips"] = round(figures["worker_seconds"] / base, 2)
        figures["ratio_ready_to_pyvips"] = round(figures["upload_end_to_ready_seconds"] / base, 2)
        # the goal: derivative time within 1.3x of the bare `vips tiffsave` call
        cli = figures["vips_cli_seconds"]
        if cli:
            figures["ratio_worker_to_vips_cli"] = round(figures["worker_seconds"] / cli, 2)
            figures["ratio_ready_to_vips_cli"] = round(
                figures["upload_end_to_ready_seconds"] / cli, 2
            )
            figures["goal_within_1_3x_of_vips_cli"] = figures["ratio_ready_to_vips_cli"] <= 1.3
        else:
            print("vips CLI not found (Debian libvips-tools): the ceiling is pyvips alone")
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
    finally:
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
