"""The Cantaloupe purger end to end: a media event on the real broker becomes a
``PurgeItemFromCache`` task on a stand-in Cantaloupe (a loopback HTTP server)."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kombu import Connection, Producer

from services.cantaloupe_purger.purger import Purger
from services.imageserver.events import PurgeConsumer
from shared.bus import declare_base, events_exchange
from shared.cantaloupe import CantaloupeClient, CantaloupeSettings
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
    consumer = PurgeConsumer(settings.amqp_uri, Purger(client))
    consumer.queue_name = f"disan.cantaloupe.purge.test{uuid.uuid4().hex[:8]}"
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
