"""RabbitMQ stops and starts again while records are being created over HTTP (issue 14): the
gateway answers 503 with ``Retry-After`` (never a 500) while the broker is away and recovers by
itself, the services stay up (the same containers, none killed), and no answer contradicts what
happened: every 201 is a record, every 503 repeated with its Idempotency-Key gives one record,
never two.

The broker is the machine's own, shared by every test suite on it: the outage is a few seconds
(``rabbitmqctl stop_app`` / ``start_app``), and ``DISAN_SKIP_BROKER_RESTART=1`` skips the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from typing import Any

import eventlet
import pytest
import requests

from tests.integration.conftest import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("DISAN_SKIP_BROKER_RESTART")), reason="DISAN_SKIP_BROKER_RESTART set"
    ),
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="no local rabbitmqctl"),
]

OUTAGE_SECONDS = 4.0


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=180)


@pytest.fixture(scope="module")
def platform(settings):
    from tests.integration.catalogue.conftest import start_catalogue_platform

    platform, stop = start_catalogue_platform(settings)
    yield platform
    stop()


def create(platform: Any, token: str, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        platform.url("/api/v1/records"),
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        timeout=90,
    )


def test_broker_restart_while_records_are_created(platform):
    from tests.integration.catalogue.conftest import record_body

    token = platform.token_for("cataloguer")
    containers = dict(platform.services.containers)
    sent: list[tuple[str, dict[str, Any], requests.Response]] = []
    writing = True

    def writer() -> None:
        while writing:
            key, body = str(uuid.uuid4()), record_body()
            try:
                sent.append((key, body, create(platform, token, key, body)))
            except requests.RequestException as exc:  # the gateway must always answer
                sent.append((key, body, exc))  # type: ignore[arg-type]
            eventlet.sleep(0.05)

    pool = eventlet.GreenPool()
    for _ in range(4):
        pool.spawn(writer)
    eventlet.sleep(1.5)
    rabbitmqctl("stop_app")
    try:
        time.sleep(0.5)
        key, body = str(uuid.uuid4()), record_body()
        during = create(platform, token, key, body)  # the broker is away
        sent.append((key, body, during))
        eventlet.sleep(max(OUTAGE_SECONDS - 0.5, 0))
    finally:
        rabbitmqctl("start_app")
    assert during.status_code == 503, during.text
    assert int(during.headers["Retry-After"]) > 0
    assert during.json()["error"]["details"]["reason"] == "bus_unavailable", during.text

    # the gateway recovers by itself
    def recovered() -> bool:
        key, body = str(uuid.uuid4()), record_body()
        answer = create(platform, token, key, body)
        sent.append((key, body, answer))
        return answer.status_code == 201

    wait_until(recovered, timeout=90, interval=0.5)
    writing = False
    pool.waitall()

    statuses = [getattr(answer, "status_code", repr(answer)) for _, _, answer in sent]
    assert set(statuses) <= {201, 503}, statuses  # never a 500, never a dropped connection
    assert statuses.count(201) > 0 and statuses.count(503) > 0, statuses
    for _, _, answer in sent:
        if answer.status_code == 503:
            assert int(answer.headers["Retry-After"]) > 0
    # a 503 repeated with its key: the one record it may already have made, or a new one
    for key, body, answer in sent:
        if answer.status_code == 503:
            again = create(platform, token, key, body)
            assert again.status_code == 201, again.text
    numbers = [body["inventory_number"] for _, body, _ in sent]
    rows = platform.catalogue_sql(
        "SELECT inventory_number, count(*) FROM records WHERE inventory_number = ANY(:n) "
        "GROUP BY inventory_number",
        n=numbers,
    )
    counts = dict(rows)
    assert sorted(counts) == sorted(numbers)  # every request is one record in the end
    assert set(counts.values()) == {1}  # never two
    # the same containers, all still running
    assert platform.services.containers == containers
    for name, container in containers.items():
        assert not container._died.ready(), name
