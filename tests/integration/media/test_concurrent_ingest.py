"""Concurrent ingest never wedges the media service (issue #14).

Twenty 3000×2000 JPEGs from ten parallel clients through the gateway, with logging configured
as in production (JSON to a stream at INFO, where libvips's "threadpool completed" messages
reach the handlers): every asset reaches ``ready``. A backlog left by a stopped service is
finished by the next one. Readiness turns red while a worker is stuck and green again after.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import eventlet
import pytest
import requests

from shared.logs import JsonFormatter
from tests.integration.conftest import wait_until
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration

UPLOADS = 20
CLIENTS = 10
BACKLOG = 8


@pytest.fixture
def production_logging() -> Iterator[io.StringIO]:
    """The root logger as ``shared.logs.configure_logging`` sets it up in a service process:
    a JSON stream handler at INFO (its lock is made after eventlet's monkey patching)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("media"))
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved)


def _upload_all(media, record_id: str, data: bytes, count: int) -> list[str]:
    def one(n: int) -> requests.Response:
        return media.upload(record_id, data, f"scan-{n:02d}.jpg")

    pool = eventlet.GreenPool(CLIENTS)
    answers = list(pool.imap(one, range(count)))
    assert [a.status_code for a in answers] == [202] * count, [a.text[:200] for a in answers]
    return [a.json()["asset_id"] for a in answers]


def _statuses(media, asset_ids: list[str]) -> dict[str, int]:
    rows = media.media_sql(
        "SELECT status, count(*) FROM assets WHERE id = ANY(CAST(:ids AS uuid[])) GROUP BY status",
        ids=asset_ids,
    )
    return dict(rows)


def _wait_all_ready(media, asset_ids: list[str], timeout: float) -> None:
    wait_until(
        lambda: _statuses(media, asset_ids).get("ready") == len(asset_ids),
        timeout=timeout,
        interval=0.5,
    )


def test_twenty_parallel_uploads_all_reach_ready(media, production_logging):
    data = jpeg(3000, 2000)
    started = time.monotonic()
    asset_ids = _upload_all(media, media.new_record(), data, UPLOADS)
    try:
        _wait_all_ready(media, asset_ids, timeout=300)
    finally:
        print(f"statuses after {time.monotonic() - started:.1f}s:", _statuses(media, asset_ids))
    assert media.asset(asset_ids[0])["width"] == 3000


def test_a_backlog_left_at_a_restart_is_all_made_ready(media, production_logging, monkeypatch):
    from services.media import worker

    started: list[str] = []
    real = worker.make_derivatives

    def held(db, store, limits, event):  # the service dies with these events unacknowledged
        started.append(event.data["asset_id"])
        while True:
            eventlet.sleep(0.05)

    monkeypatch.setattr(worker, "make_derivatives", held)
    # eight held workers leave two of the container's ten for the uploads' RPCs
    asset_ids = _upload_all(media, media.new_record(), jpeg(3000, 2000), BACKLOG)
    wait_until(lambda: len(started) >= 2, timeout=60)
    media.containers["media"].kill()  # the backlog returns to the queue
    monkeypatch.setattr(worker, "make_derivatives", real)
    assert _statuses(media, asset_ids) == {"processing": BACKLOG}
    media.start_media()
    try:
        _wait_all_ready(media, asset_ids, timeout=240)
    finally:
        print("statuses after the restart:", _statuses(media, asset_ids))


def _ops_url(media) -> str:
    from shared.ops import OpsServer

    container = media.containers["media"]
    ops = next(d for d in container.extensions if isinstance(d, OpsServer))
    return f"http://127.0.0.1:{ops.port}/readyz"


def test_readiness_turns_red_while_a_worker_is_stuck_and_green_after(media, monkeypatch):
    from services.media import derivatives

    media.services.configs["media"]["DISAN_STUCK_AFTER"] = 2
    media.containers["media"].stop()
    media.start_media()
    url = _ops_url(media)
    assert requests.get(url, timeout=10).status_code == 200

    release = eventlet.patcher.original("threading").Event()
    real = derivatives.image

    def wedged(*args, **kwargs):  # a tpool call that does not come back, as in issue #14
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(derivatives, "image", wedged)
    try:
        answer = media.upload(media.new_record(), jpeg(1200, 800), "stuck.jpg")
        assert answer.status_code == 202, answer.text
        checks = wait_until(
            lambda: (r := requests.get(url, timeout=10)).status_code == 503 and r.json()["checks"]
        )
        assert "handle_asset_ingested" in checks["workers"], checks
        assert checks["broker"] == checks["database"] == checks["storage"] == "ok", checks
    finally:
        release.set()
    assert media.wait_done(answer.json()["asset_id"], timeout=60)["status"] == "ready"
    checks = wait_until(
        lambda: (r := requests.get(url, timeout=10)).status_code == 200 and r.json()["checks"]
    )
    assert checks["workers"] == "ok", checks
