"""Fixity (a flipped byte is caught by `disan fixity run`), versions, soft delete and purge,
BagIt export, and the preservation log of each."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.media.domain import MASTERS_BUCKET
from shared.buckets import DERIVATIVES_BUCKET
from tests.integration.conftest import wait_until
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


def disan(test_env, tmp_path, *args):
    env = dict(os.environ, **test_env, DISAN_HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "disan.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _ready(media, data=None):
    answer = media.upload(media.new_record(), data or jpeg(300, 200), "a.jpg")
    assert answer.status_code == 202, answer.text
    asset = media.wait_done(answer.json()["asset_id"])
    assert asset["status"] == "ready"
    return asset


def _events(media, asset_id):
    answer = media.request(
        "GET", f"/api/v1/media/{asset_id}/events", token=media.token_for("cataloguer")
    )
    return answer.json()["items"]


def test_a_flipped_byte_in_a_master_is_caught_by_disan_fixity_run(media, test_env, tmp_path):
    good, bad = _ready(media), _ready(media)
    key = f"assets/{bad['asset_id']}/original.jpg"
    data = bytearray(media.store.get_bytes(MASTERS_BUCKET, key))
    data[len(data) // 2] ^= 0x01
    media.store.put_bytes(MASTERS_BUCKET, key, bytes(data), "image/jpeg")  # bit rot

    done = disan(test_env, tmp_path, "fixity", "run", "--schema", media.media_schema)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {bad['asset_id']} v1" in done.stdout
    assert good["asset_id"] not in done.stdout
    assert media.asset(bad["asset_id"])["fixity_status"] == "failed"
    assert media.asset(good["asset_id"])["fixity_status"] == "ok"
    failed = media.media_outbox("media.fixity_failed", bad["asset_id"])
    assert len(failed) == 1
    assert failed[0]["data"]["expected_sha256"] == bad["sha256"]
    assert failed[0]["data"]["actual_sha256"] == hashlib.sha256(data).hexdigest()
    checks = [e for e in _events(media, bad["asset_id"]) if e["event_type"] == "fixity check"]
    assert checks[-1]["outcome"] == "failure" and checks[-1]["agent"] == "cli:fixity"


def test_a_replacement_is_a_new_version_and_the_old_master_stays(media):
    asset = _ready(media)
    asset_id = asset["asset_id"]
    answer = media.request(
        "POST",
        f"/api/v1/media/{asset_id}/versions",
        token=media.token_for("cataloguer"),
        files={"file": ("b.jpg", jpeg(500, 400))},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["version"] == 2
    wait = media.wait_done(asset_id)
    assert (wait["status"], wait["width"], wait["height"]) == ("ready", 500, 400)
    assert sorted(media.keys(MASTERS_BUCKET, asset_id)) == [
        f"assets/{asset_id}/original.jpg",
        f"assets/{asset_id}/v2/original.jpg",
    ]
    assert (
        media.store.sha256_of(MASTERS_BUCKET, f"assets/{asset_id}/original.jpg")
        == (asset["sha256"])
    )
    versions = media.request(
        "GET", f"/api/v1/media/{asset_id}/versions", token=media.token_for("cataloguer")
    ).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert "replacement" in [e["event_type"] for e in _events(media, asset_id)]
    replaced = media.media_outbox("media.asset_replaced", asset_id)
    assert [e["data"]["previous_version"] for e in replaced] == [1]
    assert len(media.media_outbox("media.derivative_ready", asset_id)) == 2
    assert not media.store.list_keys(MASTERS_BUCKET, "uploads/")


def test_soft_delete_hides_the_asset_and_purge_removes_it(media, test_env, tmp_path):
    asset_id = _ready(media)["asset_id"]
    answer = media.request(
        "DELETE", f"/api/v1/media/{asset_id}", token=media.token_for("cataloguer")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted_at"]
    assert media.request("GET", f"/api/v1/media/{asset_id}").status_code == 404
    assert media.keys(MASTERS_BUCKET, asset_id)  # kept until the purge
    assert len(media.media_outbox("media.asset_deleted", asset_id)) == 1

    done = disan(test_env, tmp_path, "media", "purge", "--schema", media.media_schema)
    assert done.returncode == 0, done.stderr
    assert asset_id in done.stdout
    assert media.keys(MASTERS_BUCKET, asset_id) == []
    assert media.keys(DERIVATIVES_BUCKET, asset_id) == []
    events = media.media_sql(
        "SELECT event_type, detail->>'stage' FROM preservation_events WHERE asset_id = :a "
        "AND event_type = 'deletion' ORDER BY id",
        a=asset_id,
    )
    assert [tuple(e) for e in events] == [("deletion", "soft"), ("deletion", "purged")]


def test_bagit_export_has_every_version_events_and_a_valid_manifest(media, test_env, tmp_path):
    data = jpeg(120, 80)
    asset_id = _ready(media, data)["asset_id"]
    out = tmp_path / "bags"
    out.mkdir()
    done = disan(
        test_env, tmp_path, "media", "bag", asset_id, "-o", str(out), "--schema", media.media_schema
    )
    assert done.returncode == 0, done.stderr
    bag = Path(done.stdout.strip())
    assert (bag / "bagit.txt").read_text().startswith("BagIt-Version: 1.0")
    lines = (bag / "manifest-sha256.txt").read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        digest, name = line.split(None, 1)
        assert hashlib.sha256((bag / name).read_bytes()).hexdigest() == digest
    assert (bag / "data/v1/original.jpg").read_bytes() == data
    assert "ingestion" in (bag / "data/asset.json").read_text()
    oxum = (bag / "bag-info.txt").read_text()
    assert "Payload-Oxum:" in oxum


def test_deleting_a_record_soft_deletes_its_assets(media):
    record_id = media.new_record()
    answer = media.upload(record_id, jpeg(64, 64), "a.jpg")
    asset_id = answer.json()["asset_id"]
    media.wait_done(asset_id)
    deleted = media.request(
        "DELETE",
        f"/api/v1/records/{record_id}",
        token=media.token_for("admin"),
        headers={"If-Match": '"1"'},
    )
    assert deleted.status_code == 200, deleted.text
    wait_until(lambda: media.asset(asset_id)["deleted_at"], timeout=30)
    events = _events(media, asset_id)
    assert events[-1]["event_type"] == "deletion"
    assert events[-1]["agent"] == "event:catalogue.record_deleted"
    assert media.keys(MASTERS_BUCKET, asset_id)  # kept until the purge


def test_a_bag_is_refused_for_a_damaged_master_or_an_unknown_asset(media, test_env, tmp_path):
    asset_id = _ready(media)["asset_id"]
    key = f"assets/{asset_id}/original.jpg"
    data = bytearray(media.store.get_bytes(MASTERS_BUCKET, key))
    data[len(data) // 2] ^= 0x01
    media.store.put_bytes(MASTERS_BUCKET, key, bytes(data), "image/jpeg")  # bit rot
    out = tmp_path / "bags"
    out.mkdir()
    for wanted, message in ((asset_id, "no longer matches its SHA-256"), ("nope", "no asset")):
        done = disan(
            test_env, tmp_path, "media", "bag", wanted, "-o", str(out), "--schema",
            media.media_schema,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert list(out.iterdir()) == []  # no partial bag left


def test_the_services_own_fixity_run_checks_and_logs(media):
    """What the service's 24-hour timer runs, asked by RPC: every master re-read and logged."""
    from nameko.standalone.rpc import ServiceRpcProxy

    asset_id = _ready(media)["asset_id"]
    with ServiceRpcProxy(media.media_schema, media.media_config) as rpc:
        results = rpc.run_fixity(limit=100_000)
    ours = [r for r in results if r["asset_id"] == asset_id]
    assert [(r["ok"], r["version"]) for r in ours] == [(True, 1)]
    checks = [e for e in _events(media, asset_id) if e["event_type"] == "fixity check"]
    assert [(c["outcome"], c["agent"]) for c in checks] == [("success", "media:fixity")]
    assert media.asset(asset_id)["fixity_status"] == "ok"
