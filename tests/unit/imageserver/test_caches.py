from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from services.imageserver.caches import SourceCache, TileCache
from shared.storage import ObjectNotFound


def test_tile_cache_keeps_within_its_budget_dropping_least_recently_used() -> None:
    cache = TileCache(800)
    for name in "abcdefgh":
        cache.put("asset", name, b"x" * 100)
    assert cache.size == 800 and len(cache) == 8
    assert cache.get("asset", "a") is not None  # a is now the most recent
    cache.put("asset", "i", b"x" * 100)
    assert cache.get("asset", "b") is None
    assert cache.get("asset", "a") is not None
    assert cache.size <= 800


def test_tile_cache_refuses_items_that_would_flush_it() -> None:
    cache = TileCache(800)
    cache.put("asset", "big", b"x" * 500)
    assert cache.get("asset", "big") is None and cache.size == 0


def test_tile_cache_purges_one_asset_or_everything() -> None:
    cache = TileCache(10_000)
    cache.put("one", "k1", b"1")
    cache.put("one", "k2", b"2")
    cache.put("two", "k1", b"3")
    assert cache.purge("one") == 2
    assert cache.get("one", "k1") is None and cache.get("two", "k1") == b"3"
    assert cache.purge(None) == 1
    assert cache.size == 0 and len(cache) == 0


def _fetcher(source: Path, calls: list[str], delay: float = 0.0):  # type: ignore[no-untyped-def]
    def fetch(asset_id: str, target: Path) -> str:
        calls.append(asset_id)
        if asset_id == "missing":
            raise ObjectNotFound("no such key")
        time.sleep(delay)
        shutil.copyfile(source, target)
        return f"etag-{asset_id}"

    return fetch


def test_concurrent_requests_fetch_a_source_once(tmp_path: Path, pyramid: Path) -> None:
    calls: list[str] = []
    cache = SourceCache(tmp_path / "src", 10**9, _fetcher(pyramid, calls, delay=0.2))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("asset-1"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert calls == ["asset-1"]
    assert {r.path for r in results} == {results[0].path}
    assert results[0].etag == "etag-asset-1"
    assert results[0].size == pyramid.stat().st_size


def test_file_names_never_come_from_the_identifier(tmp_path: Path, pyramid: Path) -> None:
    cache = SourceCache(tmp_path / "src", 10**9, _fetcher(pyramid, []))
    source = cache.get("../../etc/passwd")
    assert source.path.parent == tmp_path / "src"
    assert ".." not in source.path.name


def test_a_missing_object_leaves_nothing_behind(tmp_path: Path, pyramid: Path) -> None:
    cache = SourceCache(tmp_path / "src", 10**9, _fetcher(pyramid, []))
    with pytest.raises(ObjectNotFound):
        cache.get("missing")
    assert [p.suffix for p in (tmp_path / "src").iterdir()] == [".lock"]


def test_eviction_removes_least_recently_used_sources(tmp_path: Path, pyramid: Path) -> None:
    size = pyramid.stat().st_size
    cache = SourceCache(tmp_path / "src", int(size * 2.5), _fetcher(pyramid, []))
    first = cache.get("a")
    time.sleep(0.01)
    cache.get("b")
    time.sleep(0.01)
    cache.touch(first)  # a is used again, so b is now the oldest
    time.sleep(0.01)
    cache.get("c")
    assert cache.cached("a") is not None
    assert cache.cached("b") is None
    assert cache.cached("c") is not None


def test_purge_forgets_a_source(tmp_path: Path, pyramid: Path) -> None:
    calls: list[str] = []
    cache = SourceCache(tmp_path / "src", 10**9, _fetcher(pyramid, calls))
    cache.get("a")
    cache.purge("a")
    assert cache.cached("a") is None
    cache.get("a")
    assert calls == ["a", "a"]
