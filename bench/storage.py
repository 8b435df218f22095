"""Memory and time of a streamed upload through ``ObjectStore.put_stream`` (its own moto S3).

Usage: ``.venv/bin/python bench/storage.py [--mb 128] [--part-mb 16] [--json out.json]``

The body comes from a socket-like stream (64 KiB reads, never held whole). Peak memory is the
peak of Python allocations (``tracemalloc``) during the upload, in parts; beside it, the S3
client's default the wrapper used before (three parts in flight, short reads appended).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import S3Settings  # noqa: E402
from shared.storage import ObjectStore, _HashingReader  # noqa: E402


class SocketLike:
    """``size`` bytes in reads of at most 64 KiB, like a request body arriving from a client."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(64 * 1024)

    def read(self, n: int = -1) -> bytes:
        n = min(self.left if n < 0 else n, self.left, len(self.block))
        self.left -= n
        return self.block[:n]


def upload(store: ObjectStore, bucket: str, size: int, part: int, before: bool) -> dict[str, Any]:
    stream = SocketLike(size)
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    if before:  # what put_stream did until 2026-11-27: the client's three parallel uploads
        reader = _PlainReader(stream)
        store.client.put_object(bucket, "before.bin", reader, -1, part_size=part)
    else:
        store.put_stream(bucket, "after.bin", stream, -1, part_size=part)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "mb": size / 2**20,
        "seconds": seconds,
        "mb_per_s": size / 2**20 / seconds,
        "peak_mb": peak / 2**20,
        "peak_parts": peak / part,
    }


class _PlainReader(_HashingReader):
    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128)
    parser.add_argument("--part-mb", type=int, default=16)
    parser.add_argument("--json")
    args = parser.parse_args()
    from tests.conftest import BIN, free_port, wait_port

    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        store = ObjectStore(S3Settings(f"127.0.0.1:{port}", "bench", "bench-secret"))
        bucket = "bench-" + hashlib.sha256(os.urandom(8)).hexdigest()[:8]
        store.ensure_bucket(bucket)
        size, part = args.mb * 2**20, args.part_mb * 2**20
        rows = {
            "before: 3 parts in flight": upload(store, bucket, size, part, before=True),
            "put_stream: 1 part in flight": upload(store, bucket, size, part, before=False),
        }
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\n{'upload':<32}{'MB':>6}{'s':>7}{'MB/s':>7}{'peak MB':>9}{'peak parts':>11}")
    for name, r in rows.items():
        print(
            f"{name:<32}{r['mb']:>6.0f}{r['seconds']:>7.2f}{r['mb_per_s']:>7.1f}"
            f"{r['peak_mb']:>9.1f}{r['peak_parts']:>11.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"part_mb": args.part_mb, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
