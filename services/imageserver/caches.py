"""The two caches: source pyramids on local disk (shared by the worker processes) and rendered
tiles in memory (one per worker). Both are size-bounded LRUs and safe under concurrency."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["SourceCache", "SourceFile", "TileCache"]

#: Longest wait for another worker's download of the same source.
LOCK_TIMEOUT = 300.0


def _digest(asset_id: str) -> str:
    return hashlib.sha256(asset_id.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class SourceFile:
    """A cached pyramid: its local path, the S3 ETag it came with and when it was fetched."""

    path: Path
    etag: str
    fetched_at: float
    size: int


#: ``fetch(asset_id, target_path) -> etag``; raises if the object is missing.
Fetcher = Callable[[str, Path], str]


class SourceCache:
    """Pyramids downloaded from S3 into ``directory``, at most ``max_bytes`` in all.

    File names are hashes of the identifier, so no identifier can name a path. A download
    takes an exclusive ``flock`` per asset, so concurrent workers fetch each file once; it
    lands under a temporary name and is renamed into place. Eviction removes the least
    recently used files; a worker that still has an evicted file open keeps reading it.
    """

    def __init__(self, directory: Path, max_bytes: int, fetcher: Fetcher) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.fetcher = fetcher
        directory.mkdir(parents=True, exist_ok=True)

    def _paths(self, asset_id: str) -> tuple[Path, Path, Path]:
        stem = self.directory / _digest(asset_id)
        return stem.with_suffix(".tif"), stem.with_suffix(".json"), stem.with_suffix(".lock")

    def cached(self, asset_id: str) -> SourceFile | None:
        path, meta_path, _ = self._paths(asset_id)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            size = path.stat().st_size
        except (OSError, ValueError):
            return None
        return SourceFile(path, str(meta["etag"]), float(meta["fetched_at"]), size)

    @contextlib.contextmanager
    def _locked(self, lock_path: Path) -> Iterator[None]:
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:  # polled, so a waiting thread never blocks the others in its process
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{lock_path.name} locked too long") from None
                    time.sleep(0.01)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get(self, asset_id: str) -> SourceFile:
        """The local copy of the asset's pyramid, downloading it first if need be."""
        found = self.cached(asset_id)
        if found is not None:
            return found
        path, meta_path, lock_path = self._paths(asset_id)
        with self._locked(lock_path):
            found = self.cached(asset_id)
            if found is not None:
                return found
            tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
            try:
                etag = self.fetcher(asset_id, tmp)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            fetched_at = time.time()
            meta_tmp = meta_path.with_name(meta_path.name + ".tmp")
            meta_tmp.write_text(json.dumps({"etag": etag, "fetched_at": fetched_at}))
            os.replace(meta_tmp, meta_path)
        self.evict(keep=path)
        result = self.cached(asset_id)
        if result is None:  # evicted at once: the cache is smaller than this one file
            return SourceFile(path, etag, fetched_at, 0)
        return result

    def touch(self, source: SourceFile) -> None:
        """Mark ``source`` as recently used (for LRU eviction)."""
        with contextlib.suppress(OSError):
            os.utime(source.path)

    def purge(self, asset_id: str) -> None:
        path, meta_path, _ = self._paths(asset_id)
        for item in (meta_path, path):
            with contextlib.suppress(FileNotFoundError):
                item.unlink()

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used files until the total fits; return the bytes freed."""
        entries: list[tuple[float, int, Path]] = []
        for item in self.directory.glob("*.tif"):
            with contextlib.suppress(FileNotFoundError):
                st = item.stat()
                entries.append((st.st_mtime, st.st_size, item))
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, item in sorted(entries):
            if total <= self.max_bytes:
                break
            if item == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                item.with_suffix(".json").unlink()
                item.unlink()
            total -= size
            freed += size
        return freed


class TileCache:
    """Rendered responses in memory, at most ``max_bytes``, least recently used out first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._by_asset: dict[str, set[tuple[str, str]]] = {}

    def get(self, asset_id: str, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get((asset_id, key))
            if value is not None:
                self._items.move_to_end((asset_id, key))
            return value

    def put(self, asset_id: str, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 8:
            return  # one big image must not flush the cache
        with self._lock:
            full_key = (asset_id, key)
            old = self._items.pop(full_key, None)
            if old is not None:
                self.size -= len(old)
            self._items[full_key] = value
            self._by_asset.setdefault(asset_id, set()).add(full_key)
            self.size += len(value)
            while self.size > self.max_bytes and self._items:
                evicted, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)
                keys = self._by_asset.get(evicted[0])
                if keys is not None:
                    keys.discard(evicted)
                    if not keys:
                        del self._by_asset[evicted[0]]

    def purge(self, asset_id: str | None = None) -> int:
        """Drop one asset's entries (``None``: everything); return how many went."""
        with self._lock:
            if asset_id is None:
                count = len(self._items)
                self._items.clear()
                self._by_asset.clear()
                self.size = 0
                return count
            keys = self._by_asset.pop(asset_id, set())
            count = 0
            for key in keys:
                value = self._items.pop(key, None)
                if value is not None:
                    self.size -= len(value)
                    count += 1
            return count

    def __len__(self) -> int:
        return len(self._items)
