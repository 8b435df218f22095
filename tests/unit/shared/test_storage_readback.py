"""Digests of a re-read object: S3's base64 checksum beside our hex SHA-256."""

from __future__ import annotations

import base64
import hashlib

from shared.storage import ReadBack, checksum_b64


def test_s3_checksums_are_the_base64_of_the_digest():
    digest = hashlib.sha256("Đền Nghè".encode()).digest()
    assert checksum_b64(digest.hex()) == base64.b64encode(digest).decode()


def test_an_intact_object_has_no_problems_and_missing_digests_are_not_problems():
    sha = hashlib.sha256(b"x").hexdigest()
    assert ReadBack(sha, 1, checksum_b64(sha), sha).problems(sha) == []
    assert ReadBack(sha, 1, None, None).problems(sha) == []


def test_each_disagreeing_digest_is_named():
    sha, other = hashlib.sha256(b"x").hexdigest(), hashlib.sha256(b"y").hexdigest()
    assert len(ReadBack(other, 1, checksum_b64(other), other).problems(sha)) == 3
    (only,) = ReadBack(sha, 1, checksum_b64(other), sha).problems(sha)
    assert "S3's checksum" in only
