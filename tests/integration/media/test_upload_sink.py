"""The gateway streams uploads into media's upload sink and never touches a bucket itself
(issue #16, ADR 0056): a gateway given no working S3 credentials (an endpoint that answers
nothing) still takes uploads, replaces masters and redirects to IIIF content, and a refused
upload leaves neither an object nor an unfinished multipart upload. Real HTTP, RabbitMQ,
PostgreSQL and S3 (moto over HTTP)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from nameko.containers import ServiceContainer

from services.gateway.service import GatewayService
from services.media.domain import MASTERS_BUCKET
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.integration.media.conftest import MediaPlatform, sha
from tests.integration.media.support import jpeg, png
from tests.integration.running import Services

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sinkless(settings: Any) -> Iterator[MediaPlatform]:
    """Access, catalogue and media as usual; a gateway whose S3 settings lead nowhere."""
    services = Services(settings, cache_seconds=0.5)
    services.start(["access", "catalogue", "media"], gateway=None)
    name = f"{services.unique}_gateway"
    config = services._config(name, None)
    nowhere = dataclasses.replace(
        services.settings.s3,
        endpoint=f"127.0.0.1:{free_port()}",  # nothing listens: any S3 call would fail
        access_key="no-such-key",
        secret_key="no-such-secret",
    )
    config["DISAN_SETTINGS"] = dataclasses.replace(services.settings, s3=nowhere)
    port = free_port()
    config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{port}"
    services.base = f"http://127.0.0.1:{port}"
    cls = type("TestGatewayService", (GatewayService,), {"name": name})
    services.containers["gateway"] = ServiceContainer(cls, config)
    services.containers["gateway"].start()
    wait_until(lambda: requests.get(f"{services.base}/healthz", timeout=5).ok, timeout=20)
    platform = MediaPlatform(services)
    yield platform
    services.stop()
    platform.close()


def pending(platform: MediaPlatform) -> set[str]:
    return {u.upload_id for u in platform.store.list_multipart_uploads(MASTERS_BUCKET)}


def test_an_upload_through_a_gateway_without_s3_is_stored_by_media(sinkless: MediaPlatform):
    record_id, data = sinkless.new_record(), jpeg(640, 480)
    before = pending(sinkless)
    answer = sinkless.upload(record_id, data, "a.jpg", headers={"X-Checksum-SHA256": sha(data)})
    assert answer.status_code == 202, answer.text
    asset_id = answer.json()["asset_id"]
    key = f"assets/{asset_id}/original.jpg"
    assert sinkless.keys(MASTERS_BUCKET, asset_id) == [key]
    assert sinkless.store.sha256_of(MASTERS_BUCKET, key) == sha(data)
    assert sinkless.wait_done(asset_id)["status"] == "ready"
    assert pending(sinkless) == before  # the sink's multipart upload was completed


def test_a_file_of_several_parts_arrives_whole_and_in_order(sinkless: MediaPlatform):
    record_id = sinkless.new_record()
    # three parts of the sink (8 MB each), every one different
    data = b"%PDF-1.4\n" + b"".join(bytes([n]) * (8 * 1024 * 1024) for n in (1, 2, 3)) + b"%%EOF\n"
    answer = sinkless.upload(record_id, data, "big.pdf")
    assert answer.status_code == 202, answer.text
    asset_id = answer.json()["asset_id"]
    assert answer.json()["size"] == len(data)
    key = f"assets/{asset_id}/original.pdf"
    assert sinkless.store.sha256_of(MASTERS_BUCKET, key) == sha(data)


def test_a_wrong_checksum_leaves_no_object_and_no_unfinished_upload(sinkless: MediaPlatform):
    record_id, data = sinkless.new_record(), jpeg(320, 240)
    before = pending(sinkless)
    answer = sinkless.upload(record_id, data, "a.jpg", headers={"X-Checksum-SHA256": "0" * 64})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["reason"] == "checksum_mismatch"
    assert answer.json()["error"]["message"].endswith(
        f"SHA-256 mismatch: expected {'0' * 64}, got {sha(data)}"
    )
    assert pending(sinkless) == before
    rows = sinkless.media_sql("SELECT id FROM assets WHERE record_id = :r", r=record_id)
    assert rows == []
    leftovers = [
        k
        for k in sinkless.store.list_keys(MASTERS_BUCKET, "uploads/")
        if k.endswith(".jpg") and sinkless.store.sha256_of(MASTERS_BUCKET, k) == sha(data)
    ]
    assert leftovers == []


def test_a_new_version_goes_through_the_sink_too(sinkless: MediaPlatform):
    record_id, first, second = sinkless.new_record(), jpeg(320, 240), png()
    asset_id = sinkless.upload(record_id, first, "a.jpg").json()["asset_id"]
    sinkless.wait_done(asset_id)
    answer = requests.post(
        sinkless.url(f"/api/v1/media/{asset_id}/versions"),
        headers={"Authorization": f"Bearer {sinkless.token_for('cataloguer')}"},
        files={"file": ("b.png", second, "application/octet-stream")},
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    key = f"assets/{asset_id}/v2/original.png"
    assert key in sinkless.keys(MASTERS_BUCKET, asset_id)
    assert sinkless.store.sha256_of(MASTERS_BUCKET, key) == sha(second)


def test_a_repeated_upload_leaves_no_staged_copy(sinkless: MediaPlatform):
    record_id, data, key = sinkless.new_record(), jpeg(300, 200), str(uuid.uuid4())
    staged_before = set(sinkless.store.list_keys(MASTERS_BUCKET, "uploads/"))
    first = sinkless.upload(record_id, data, "a.jpg", headers={"Idempotency-Key": key})
    again = sinkless.upload(record_id, data, "a.jpg", headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert set(sinkless.store.list_keys(MASTERS_BUCKET, "uploads/")) == staged_before
