"""The Cantaloupe purger end to end: a media event on the real broker becomes a
``PurgeItemFromCache`` task on a stand-in Cantaloupe (a loopback HTTP server)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from kombu import Connection, Producer

from services.cantaloupe_purger.purger import Purger
from shared.bus import declare_base, events_exchange
from shared.cantaloupe import CantaloupeClient, CantaloupeSettings
from shared.purges import PurgeConsumer
from tests.conftest import ROOT, free_port
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


class FakeCantaloupe:
    """Answers ``POST /tasks`` like Cantaloupe 5 and records what it was asked."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.auth: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802 - Cantaloupe's /health
                self.send_response(200 if self.path == "/health" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                fake.tasks.append(json.loads(self.rfile.read(length)))
                fake.auth.append(self.headers.get("Authorization", ""))
                self.send_response(202)
                self.send_header("Location", f"/tasks/{uuid.uuid4()}")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _publish(amqp_uri: str, event_type: str, data: dict[str, Any]) -> None:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": "2026-11-27T08:00:00Z",
        "producer": "media",
        "correlation_id": str(uuid.uuid4()),
        "actor": "system",
        "data": data,
    }
    with Connection(amqp_uri) as conn:
        declare_base(conn)
        Producer(conn.default_channel).publish(
            json.dumps(body),
            exchange=events_exchange,
            routing_key=event_type,
            content_type="application/json",
            content_encoding="utf-8",
        )


def test_a_media_event_purges_the_asset_from_cantaloupe(settings: Any) -> None:
    fake = FakeCantaloupe()
    client = CantaloupeClient(CantaloupeSettings(fake.url, "disan", "s3cret"))
    prefix = f"disan.cantaloupe.purge.test{uuid.uuid4().hex[:8]}"
    consumer = PurgeConsumer(settings.amqp_uri, Purger(client), queue_prefix=prefix)
    consumer.start()
    try:
        wait_until(consumer.connected.is_set, timeout=15)
        asset = str(uuid.uuid4())
        _publish(settings.amqp_uri, "access.policy_changed", {"record_id": "r1"})
        _publish(settings.amqp_uri, "media.derivative_ready", {"asset_id": asset})
        wait_until(lambda: fake.tasks, timeout=15)
        assert fake.tasks == [{"verb": "PurgeItemFromCache", "identifier": asset}]
        expected = "Basic " + base64.b64encode(b"disan:s3cret").decode()
        assert fake.auth == [expected]
    finally:
        consumer.stop()
        consumer.join(timeout=5)
        fake.close()


def test_the_purger_process_reports_ready_and_purges(
    test_env: dict[str, str], settings: Any
) -> None:
    fake = FakeCantaloupe()
    ops = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        **test_env,
        "DISAN_CANTALOUPE_URL": fake.url,
        "DISAN_CANTALOUPE_API_SECRET": "s3cret",
        "DISAN_OPS_PORT_CANTALOUPE_PURGER": str(ops),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cantaloupe_purger"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{ops}/readyz", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(ready, timeout=30, interval=0.2)
        assert requests.get(f"http://127.0.0.1:{ops}/healthz", timeout=2).json()["status"] == "ok"
        asset = str(uuid.uuid4())
        _publish(settings.amqp_uri, "media.asset_ingested", {"asset_id": asset})
        wait_until(lambda: fake.tasks, timeout=15)
        assert fake.tasks[0]["identifier"] == asset
        metrics = requests.get(f"http://127.0.0.1:{ops}/metrics", timeout=2).text
        assert 'disan_cantaloupe_purger_purges_total{outcome="ok"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        fake.close()
