"""A worker killed mid-derivative: the event comes back, the next worker finishes, one output."""

from __future__ import annotations

import pytest

from shared.buckets import DERIVATIVES_BUCKET
from tests.integration.conftest import wait_until
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


def test_a_killed_workers_derivative_completes_after_restart_with_one_output(media, monkeypatch):
    import eventlet

    from services.media import repository

    started = []
    real_mark_ready = repository.mark_ready

    def killed_here(*args, **kwargs):
        # the pyramid and thumbnail are already in S3; the worker dies before it records them
        started.append(True)
        while True:
            eventlet.sleep(0.05)

    monkeypatch.setattr(repository, "mark_ready", killed_here)
    answer = media.upload(media.new_record(), jpeg(1200, 800), "crash.jpg")
    assert answer.status_code == 202, answer.text
    asset_id = answer.json()["asset_id"]
    wait_until(lambda: started, timeout=60)
    assert len(media.keys(DERIVATIVES_BUCKET, asset_id)) == 2  # outputs of the first attempt

    media.containers["media"].kill()  # the unacked event returns to the queue
    monkeypatch.setattr(repository, "mark_ready", real_mark_ready)
    assert media.asset_from_db(asset_id)["status"] == "processing"
    media.start_media()
    asset = media.wait_done(asset_id, timeout=60)
    assert asset["status"] == "ready", asset
    assert (asset["width"], asset["height"]) == (1200, 800)
    assert sorted(media.keys(DERIVATIVES_BUCKET, asset_id)) == [
        f"assets/{asset_id}/pyramid.tif",
        f"assets/{asset_id}/thumbnail.jpg",
    ]
    assert len(media.media_outbox("media.derivative_ready", asset_id)) == 1
    created = media.media_sql(
        "SELECT count(*) FROM preservation_events WHERE asset_id = :a "
        "AND event_type = 'derivative creation'",
        a=asset_id,
    )
    assert created[0][0] == 1
