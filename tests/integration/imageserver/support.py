"""Helpers shared by the image server's integration, conformance and e2e tests: test images,
pyramids written as the media service will write them, and the server as a real process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyvips
import requests

ROOT = Path(__file__).resolve().parents[3]
#: Tile size of the test pyramids (and the media service's default).
TILE = 512
VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"


def gradient_image(width: int, height: int) -> Any:
    """A colourful synthetic image where every region looks different."""
    xy = pyvips.Image.xyz(width, height)
    red = (xy[0] * 255 / max(width - 1, 1)).cast("uchar")
    green = (xy[1] * 255 / max(height - 1, 1)).cast("uchar")
    blue = ((xy[0] + xy[1]) % 256).cast("uchar")
    return red.bandjoin([green, blue]).copy(interpretation="srgb")


def validator_image() -> Any:
    """The iiif-validator's 1000x1000 test image, rebuilt pixel-exactly from its colour table:
    a 10x10 grid of 100-px squares, ``colorInfo[column][row]``."""
    from iiif_validator.validator import ValidationInfo

    colours = ValidationInfo().colorInfo
    rows = []
    for row in range(10):
        squares = [
            pyvips.Image.black(100, 100, bands=3).new_from_image(list(colours[column][row]))
            for column in range(10)
        ]
        rows.append(pyvips.Image.arrayjoin(squares, across=10))
    image = pyvips.Image.arrayjoin(rows, across=1)
    return image.cast("uchar").copy(interpretation="srgb")


def write_pyramid(image: Any, path: Path, quality: int = 90) -> Path:
    """A tiled, pyramidal, JPEG-compressed TIFF as the media service writes derivatives."""
    image.tiffsave(
        str(path),
        tile=True,
        pyramid=True,
        compression="jpeg",
        Q=quality,
        tile_width=TILE,
        tile_height=TILE,
    )
    return path


def upload_pyramid(settings: Any, asset_id: str, path: Path) -> None:
    from shared.buckets import DERIVATIVES_BUCKET, derivative_key
    from shared.storage import ObjectStore

    store = ObjectStore(settings.s3)
    store.ensure_bucket(DERIVATIVES_BUCKET)
    store.put_bytes(DERIVATIVES_BUCKET, derivative_key(asset_id), path.read_bytes(), "image/tiff")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python -m services.imageserver`` with the test platform's environment."""

    def __init__(self, env: Mapping[str, str], cache_dir: Path, **overrides: str) -> None:
        self.port = free_port()
        self.ops_port = free_port()
        self.env = {
            **os.environ,
            **env,
            "DISAN_IMAGESERVER_PORT": str(self.port),
            "DISAN_OPS_PORT_IMAGESERVER": str(self.ops_port),
            "DISAN_IMAGESERVER_CACHE_DIR": str(cache_dir),
            "DISAN_IMAGESERVER_WORKERS": "2",
            # ids and links name the server under test (a front would be DISAN_PUBLIC_URL)
            "DISAN_IMAGESERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            # these tests are about images; access has its own tests (test_access.py)
            "DISAN_IMAGESERVER_ACCESS": "public",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
            **overrides,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cache_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        cache = Path(self.env["DISAN_IMAGESERVER_CACHE_DIR"])
        cache.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.imageserver"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"image server exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                # both the public port and the ops port (metrics) must answer
                if (
                    requests.get(f"{self.url}/healthz", timeout=1).ok
                    and requests.get(f"http://127.0.0.1:{self.ops_port}/healthz", timeout=1).ok
                ):
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"image server not up in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@contextlib.contextmanager
def running_server(
    env: Mapping[str, str], cache_dir: Path, **overrides: str
) -> Iterator[ServerProcess]:
    server = ServerProcess(env, cache_dir, **overrides)
    server.start()
    try:
        yield server
    finally:
        server.stop()
