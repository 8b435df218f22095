"""JPEG and PNG masters stream from S3 into libvips through a pipe: an unreadable master is an
infrastructure error (retried), never mistaken for a damaged file (failed for good)."""

from __future__ import annotations

import uuid

import pytest

from services.media import derivatives, worker
from services.media.domain import MASTERS_BUCKET, MediaLimits
from shared.storage import StorageError
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


def asset(key: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "format": "jpeg", "kind": "image", "master_key": key}


def test_a_streamed_master_gives_the_pyramid_and_thumbnail(media, tmp_path):
    key = f"assets/{uuid.uuid4()}/original.jpg"
    media.store.put_bytes(MASTERS_BUCKET, key, jpeg(1500, 1000), "image/jpeg")
    outputs = worker._produce_streamed(media.store, asset(key), tmp_path, MediaLimits())
    assert (outputs.technical["width"], outputs.technical["height"]) == (1500, 1000)
    assert all(path.stat().st_size > 0 for path in outputs.files.values())


def test_a_master_that_cannot_be_read_is_an_error_to_retry(media, tmp_path):
    missing = asset(f"assets/{uuid.uuid4()}/original.jpg")
    with pytest.raises(StorageError, match="HTTP 404"):
        worker._produce_streamed(media.store, missing, tmp_path, MediaLimits())


def test_a_damaged_master_is_a_derivative_failure(media, tmp_path):
    key = f"assets/{uuid.uuid4()}/original.jpg"
    media.store.put_bytes(MASTERS_BUCKET, key, jpeg(800, 600)[:5000], "image/jpeg")
    with pytest.raises(derivatives.DerivativeFailed):
        worker._produce_streamed(media.store, asset(key), tmp_path, MediaLimits())
