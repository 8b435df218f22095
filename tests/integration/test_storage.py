"""The S3 wrapper against a real S3 server over HTTP."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from shared.storage import ChecksumMismatch, ObjectNotFound, ObjectStore, StorageUnavailable

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings, unique):
    store = ObjectStore(settings.s3)
    store.ensure_bucket(unique)
    return store


class OneShotStream(io.RawIOBase):
    """A stream of ``size`` bytes made on demand, never held whole in memory."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        chunk = os.urandom(n)
        self.left -= n
        self.digest.update(chunk)
        return chunk


def test_streamed_upload_of_unknown_length_is_hashed_on_the_way(store, unique):
    stream = OneShotStream(40 * 1024 * 1024)  # larger than one multipart part
    stored = store.put_stream(unique, "assets/a/original.bin", stream)
    assert stored.sha256 == stream.digest.hexdigest()
    assert stored.size == 40 * 1024 * 1024
    assert store.sha256_of(unique, "assets/a/original.bin") == stored.sha256


def test_expected_checksum_is_stored_as_metadata(store, unique):
    data = "Đền Nghè — sắc phong".encode()
    digest = hashlib.sha256(data).hexdigest()
    store.put_stream(unique, "k", io.BytesIO(data), len(data), expected_sha256=digest.upper())
    assert store.stat(unique, "k").sha256 == digest
    assert store.get_bytes(unique, "k") == data


def test_wrong_checksum_is_refused_and_leaves_nothing_behind(store, unique):
    data = b"manuscript page"
    with pytest.raises(ChecksumMismatch):
        store.put_stream(unique, "k", io.BytesIO(data), len(data), expected_sha256="0" * 64)
    assert store.list_keys(unique) == []


def test_missing_object_is_a_typed_error(store, unique):
    with pytest.raises(ObjectNotFound):
        store.stat(unique, "nope")
    assert not store.exists(unique, "nope")


def test_unreachable_endpoint_is_a_typed_error(settings):
    from dataclasses import replace

    dead = ObjectStore(replace(settings.s3, endpoint="127.0.0.1:9"), timeout=1)
    with pytest.raises(StorageUnavailable):
        dead.ping()


class SocketLike(OneShotStream):
    """Arrives in short reads (64 KiB at most), like a request body from a client."""

    def read(self, n: int = -1) -> bytes:
        return super().read(min(64 * 1024, self.left if n < 0 else n))


def test_streamed_upload_holds_about_one_part_in_memory(store, unique):
    import tracemalloc

    part = 5 * 1024 * 1024  # the smallest part S3 allows
    stream = SocketLike(7 * part + 123)
    tracemalloc.start()
    try:
        stored = store.put_stream(unique, "big.bin", stream, part_size=part)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 7 * part + 123 and stored.sha256 == stream.digest.hexdigest()
    # the part being sent plus the S3 client's copies of it; three parts in flight were ≈ 7
    assert peak < 3.6 * part, f"peak {peak / part:.1f} parts"
