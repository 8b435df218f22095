"""Masters carry their SHA-256 twice, as metadata and as S3's own checksum, and re-reading an
object compares both with the bytes (real S3 server over HTTP)."""

from __future__ import annotations

import hashlib
import io

import pytest

from shared.storage import ChecksumMismatch, ObjectStore, checksum_b64

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings, unique):
    store = ObjectStore(settings.s3)
    store.ensure_bucket(unique)
    return store


def test_a_sealed_object_has_its_sha256_as_metadata_and_as_s3_checksum(store, unique):
    data = b"master bytes " * 1000
    sha = hashlib.sha256(data).hexdigest()
    store.put_stream(unique, "staging", io.BytesIO(data), len(data), "image/tiff")
    assert store.stat(unique, "staging").checksum_sha256 is None
    sealed = store.seal(unique, "staging", "final", sha)
    assert sealed.sha256 == sha and sealed.content_type == "image/tiff"
    assert sealed.checksum_sha256 == checksum_b64(sha)
    back = store.read_back(unique, "final")
    assert (back.sha256, back.size, back.problems(sha)) == (sha, len(data), [])
    assert back.s3_checksum == checksum_b64(sha) and back.metadata_sha256 == sha


def test_an_object_sealed_in_place_gets_its_checksum(store, unique):
    data = b"x" * 70_000
    sha = hashlib.sha256(data).hexdigest()
    store.put_stream(unique, "here", io.BytesIO(data), len(data))
    assert store.seal(unique, "here", "here", sha).checksum_sha256 == checksum_b64(sha)
    assert store.get_bytes(unique, "here") == data


def test_sealing_with_a_digest_the_bytes_do_not_have_is_refused(store, unique):
    store.put_stream(unique, "staging", io.BytesIO(b"abc"), 3)
    wrong = hashlib.sha256(b"abd").hexdigest()
    with pytest.raises(ChecksumMismatch):
        store.seal(unique, "staging", "final", wrong)
    assert not store.exists(unique, "final")


def test_read_back_names_every_digest_that_disagrees(store, unique):
    data = b"original"
    sha = hashlib.sha256(data).hexdigest()
    store.put_stream(unique, "s", io.BytesIO(data), len(data))
    store.seal(unique, "s", "m", sha)
    other = hashlib.sha256(b"other").hexdigest()
    problems = store.read_back(unique, "m").problems(other)
    assert len(problems) == 3
    assert any("S3's checksum" in p for p in problems)
