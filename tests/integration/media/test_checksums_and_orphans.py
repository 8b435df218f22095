"""Every master carries its SHA-256 as metadata and as S3's checksum, fixity compares both on
read-back, and masters no asset registered (the gateway died between upload and register) are
swept after a grace period."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy

from services.media.domain import MASTERS_BUCKET
from shared.storage import checksum_b64
from tests.integration.media.support import jpeg
from tests.integration.media.test_preservation import _events, _ready, disan

pytestmark = pytest.mark.integration


def test_every_master_has_its_sha256_as_metadata_and_as_s3_checksum(media):
    plain = _ready(media)
    data = jpeg(320, 240)
    sha = hashlib.sha256(data).hexdigest()
    told = media.upload(media.new_record(), data, "b.jpg", headers={"X-Checksum-SHA256": sha})
    assert told.status_code == 202, told.text
    for asset in (plain, media.wait_done(told.json()["asset_id"])):
        stored = media.store.stat(MASTERS_BUCKET, f"assets/{asset['asset_id']}/original.jpg")
        assert stored.sha256 == asset["sha256"]
        assert stored.checksum_sha256 == checksum_b64(asset["sha256"])
        digests = list(_events(media, asset["asset_id"]))
        digest = next(e for e in digests if e["event_type"] == "message digest calculation")
        assert digest["detail"]["s3_checksum"] == checksum_b64(asset["sha256"])


def test_fixity_compares_s3s_checksum_on_read_back(media, test_env, tmp_path):
    asset = _ready(media)
    key = f"assets/{asset['asset_id']}/original.jpg"
    data = media.store.get_bytes(MASTERS_BUCKET, key)
    wrong = checksum_b64(hashlib.sha256(data + b"!").hexdigest())
    # the same bytes, but S3 now holds a checksum they do not have
    media.store.client.put_object(
        MASTERS_BUCKET,
        key,
        io.BytesIO(data),
        len(data),
        metadata={
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": wrong,
            "sha256": asset["sha256"],
        },
    )
    assert media.store.read_back(MASTERS_BUCKET, key).sha256 == asset["sha256"]
    done = disan(test_env, tmp_path, "fixity", "run", "--schema", media.media_schema)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {asset['asset_id']} v1" in done.stdout
    failed = media.media_outbox("media.fixity_failed", asset["asset_id"])
    assert "S3's checksum" in failed[-1]["data"]["detail"]
    check = [e for e in _events(media, asset["asset_id"]) if e["event_type"] == "fixity check"]
    assert check[-1]["outcome"] == "failure" and check[-1]["detail"]["s3_checksum"] == wrong


def test_masters_never_registered_are_swept_after_the_grace_period(media, test_env, tmp_path):
    registered = _ready(media)
    kept = f"assets/{registered['asset_id']}/original.jpg"
    lost = f"assets/{uuid.uuid4()}/original.jpg"  # streamed, then the gateway died
    failed_version = f"assets/{registered['asset_id']}/v2/original.jpg"
    staging = f"uploads/{uuid.uuid4()}.jpg"
    for key in (lost, failed_version, staging):
        media.store.put_bytes(MASTERS_BUCKET, key, jpeg(64, 64), "image/jpeg")
    orphans = {lost, failed_version, staging}
    # a presigned multipart upload begun, one part sent, never completed nor aborted
    unfinished = f"uploads/{uuid.uuid4()}"
    upload_id = media.store.create_multipart(MASTERS_BUCKET, unfinished, "image/tiff")
    part = media.store.presigned_part(MASTERS_BUCKET, unfinished, upload_id, 1, timedelta(hours=1))
    assert requests.put(part, data=b"\0" * 1024, timeout=30).status_code == 200

    def pending() -> set[str]:
        return {u.upload_id for u in media.store.list_multipart_uploads(MASTERS_BUCKET)}

    assert upload_id in pending()

    def sweep(*args):
        done = disan(
            test_env, tmp_path, "media", "sweep", "--json", "--schema", media.media_schema, *args
        )
        assert done.returncode == 0, done.stderr
        return {o["key"]: o for o in json.loads(done.stdout)}

    # younger than the grace period (24 h); the unfinished upload counts from now, when the
    # sweep first sees it pending (moto dates every upload 2010-11-10)
    assert not (orphans | {unfinished}) & set(sweep())
    listed = sweep("--grace-hours", "0", "--dry-run")
    assert orphans <= set(listed) and kept not in listed
    assert listed[unfinished]["kind"] == "multipart" and not listed[unfinished]["removed"]
    assert all(media.store.exists(MASTERS_BUCKET, k) for k in orphans)
    assert upload_id in pending()

    removed = sweep("--grace-hours", "0")
    assert orphans <= set(removed)
    assert removed[unfinished]["kind"] == "multipart" and removed[unfinished]["removed"]
    assert upload_id not in pending()  # aborted: S3 dropped its parts
    assert removed[failed_version]["asset_id"] == registered["asset_id"]
    assert removed[lost]["asset_id"] is None
    assert not any(media.store.exists(MASTERS_BUCKET, k) for k in orphans)
    assert media.store.exists(MASTERS_BUCKET, kept)
    assert media.asset(registered["asset_id"])["status"] == "ready"
    logged = [
        e
        for e in _events(media, registered["asset_id"])
        if e["event_type"] == "deletion" and e["detail"].get("stage") == "orphan"
    ]
    assert [e["detail"]["key"] for e in logged] == [failed_version]

    # the service's own sweep (what its hourly timer runs)
    again = f"assets/{uuid.uuid4()}/original.png"
    media.store.put_bytes(MASTERS_BUCKET, again, b"\x89PNG\r\n\x1a\n", "image/png")
    with ServiceRpcProxy(media.media_schema, media.media_config) as rpc:
        assert again not in {o["key"] for o in rpc.sweep_orphans()}
        assert again in {o["key"] for o in rpc.sweep_orphans(grace_hours=0)}
    assert not media.store.exists(MASTERS_BUCKET, again)
    assert media.store.exists(MASTERS_BUCKET, kept)
