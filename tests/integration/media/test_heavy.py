"""Big files with bounded memory: a 200-megapixel TIFF uploaded and made a pyramid, a 2 GB file
streamed.

Data is generated on the fly (the TIFF from a replicated tile, the 2 GB WAV as a header and
silence produced while it is sent), so these stay within a minute or two on two cores.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import eventlet
import pytest
import pyvips
import requests

from services.media.domain import MASTERS_BUCKET
from shared.buckets import DERIVATIVES_BUCKET, derivative_key
from tests.integration.media.support import gradient

pytestmark = pytest.mark.integration

real_threading = eventlet.patcher.original("threading")
real_time = eventlet.patcher.original("time")

BOUNDARY = "disan-test-boundary-7f3a"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Samples this process's resident memory from a real OS thread."""

    def __init__(self) -> None:
        self.peak = self.start = rss_mb()
        self._stop = False
        self._thread = real_threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, rss_mb())
            real_time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join()

    @property
    def rise(self) -> float:
        return self.peak - self.start


class Silence:
    """``size`` zero bytes, read in pieces."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.zeros = bytes(1024 * 1024)

    def read(self, n: int) -> bytes:
        take = min(n, self.left, len(self.zeros))
        self.left -= take
        return self.zeros[:take]


class StreamedBody:
    """A multipart body with one ``file`` part read from ``content`` as it is sent."""

    def __init__(self, filename: str, content: Any, size: int, head: bytes = b"") -> None:
        self.prefix = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode() + head
        self.content = content
        self.left = size
        self.suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.total = len(self.prefix) + size + len(self.suffix)

    def __len__(self) -> int:
        return self.total

    def read(self, n: int = -1) -> bytes:
        n = 1024 * 1024 if n is None or n < 0 else min(n, 1024 * 1024)
        if self.prefix:
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            return out
        if self.left:
            out = self.content.read(min(n, self.left))
            self.left -= len(out)
            return out
        out, self.suffix = self.suffix[:n], self.suffix[n:]
        return out


def wav_header(size: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
        + b"data"
        + struct.pack("<I", size - 44)
    )


def post(media: Any, record_id: str, body: StreamedBody) -> requests.Response:
    return requests.post(
        media.url(f"/api/v1/records/{record_id}/media"),
        headers={
            "Authorization": f"Bearer {media.token_for('cataloguer')}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        data=body,
        timeout=900,
    )


@pytest.mark.timeout(900)  # 2 GB through moto (upload, then the sealing copy) on a busy machine
def test_a_2_gb_upload_streams_with_bounded_memory(media):
    size = 2_000_000_000
    record_id = media.new_record()
    body = StreamedBody("festival.wav", Silence(size - 44), size - 44, wav_header(size))
    started = time.monotonic()
    with PeakRss() as rss:
        answer = post(media, record_id, body)
    seconds = time.monotonic() - started
    assert answer.status_code == 202, answer.text
    asset = answer.json()
    assert asset["size"] == size and asset["format"] == "wav"
    assert rss.rise < 100, f"memory rose {rss.rise:.0f} MB during a 2 GB upload"
    print(f"2 GB upload: {seconds:.1f} s, {size / 1e6 / seconds:.0f} MB/s, RSS +{rss.rise:.0f} MB")
    done = media.wait_done(asset["asset_id"], timeout=120)
    assert done["status"] == "ready", done
    assert done["technical"]["channels"] == 2
    assert abs(done["technical"]["duration"] - (size - 44) / (44100 * 4)) < 1
    media.store.delete(MASTERS_BUCKET, f"assets/{asset['asset_id']}/original.wav")


def test_a_200_megapixel_tiff_becomes_a_pyramid(media, tmp_path):
    width, height = 16_330, 12_250  # 200 megapixels
    tile = gradient(1021, 1021)
    noise = pyvips.Image.gaussnoise(1021, 1021, sigma=20).cast("uchar")
    tile = (tile.cast("short") + noise.cast("short") - 128).cast("uchar").copy_memory()
    image = tile.replicate(width // 1021 + 1, height // 1021 + 1).crop(0, 0, width, height)
    path = tmp_path / "big.tif"
    image.tiffsave(str(path), compression="jpeg", Q=75, tile=True, tile_width=256, tile_height=256)
    record_id = media.new_record()
    with path.open("rb") as f, PeakRss() as rss:
        answer = post(media, record_id, StreamedBody("big.tif", f, path.stat().st_size))
    assert answer.status_code == 202, answer.text
    assert rss.rise < 100
    asset_id = answer.json()["asset_id"]
    with PeakRss() as worker_rss:
        asset = media.wait_done(asset_id, timeout=300)
    print(f"200 MP derivative: RSS {worker_rss.start:.0f} MB, +{worker_rss.rise:.0f} MB")
    assert asset["status"] == "ready", asset
    # the worker streams the pyramid: far below the 600 MB the decoded pixels would take
    # (measured +87 MB on two cores; libvips' buffers grow with its thread count)
    assert worker_rss.rise < 300, f"memory rose {worker_rss.rise:.0f} MB making the pyramid"
    assert (asset["width"], asset["height"]) == (width, height)
    assert asset["levels"] == 6  # 16330 … 510: halving until one 512-px tile holds it
    pyramid = tmp_path / "pyramid.tif"
    media.store.download(DERIVATIVES_BUCKET, derivative_key(asset_id), str(pyramid))
    assert pyvips.Image.new_from_file(str(pyramid)).get("n-pages") == 6
    for bucket in (MASTERS_BUCKET, DERIVATIVES_BUCKET):
        for key in media.keys(bucket, asset_id):
            media.store.delete(bucket, key)
