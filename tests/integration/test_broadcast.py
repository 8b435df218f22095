"""The one broadcast consumer (``shared.broadcast``) on the real broker: every consumer hears
every event it is bound to, a broken callback or a body that is not an envelope does not stop
it, it says when it is (re)connected, and ``stop()`` ends it."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from kombu import Connection, Producer

from shared.backoff import Backoff
from shared.broadcast import BroadcastConsumer
from shared.bus import declare_base, events_exchange
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def _publish(amqp_uri: str, event_type: str, body: Any) -> None:
    with Connection(amqp_uri) as conn:
        declare_base(conn)
        Producer(conn.default_channel).publish(
            body if isinstance(body, str) else json.dumps(body),
            exchange=events_exchange,
            routing_key=event_type,
            content_type="application/json",
            content_encoding="utf-8",
        )


def _event(event_type: str, **data: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": event_type, "version": 1, "data": data}


def test_every_consumer_hears_every_event_and_survives_bad_ones(settings: Any) -> None:
    kind = f"test.broadcast_{uuid.uuid4().hex[:8]}"
    heard: list[list[str]] = [[], []]
    connections: list[int] = [0, 0]

    def listener(n: int) -> BroadcastConsumer:
        def on_event(event: dict[str, Any]) -> None:
            if event["data"].get("explode"):
                raise RuntimeError("a broken purge")
            heard[n].append(event["data"]["n"])

        def on_connect() -> None:
            connections[n] += 1

        return BroadcastConsumer(
            settings.amqp_uri,
            [kind],
            on_event,
            "disan.test.broadcast",
            on_connect=on_connect,
            backoff=Backoff(0.1, 0.5),
            poll_seconds=0.2,
        )

    consumers = [listener(0), listener(1)]
    threads = [c.start(f"broadcast-test-{i}") for i, c in enumerate(consumers)]
    try:
        for consumer in consumers:
            wait_until(consumer.connected.is_set, timeout=15)
        assert consumers[0].queue_name != consumers[1].queue_name
        assert connections == [1, 1]
        _publish(settings.amqp_uri, kind, _event(kind, n="one"))
        _publish(settings.amqp_uri, kind, _event(kind, explode=True))
        _publish(settings.amqp_uri, kind, "not json {")
        _publish(settings.amqp_uri, kind, ["not", "an", "envelope"])
        _publish(settings.amqp_uri, kind, _event(kind, n="two"))
        _publish(settings.amqp_uri, "test.unbound", _event("test.unbound", n="other"))
        wait_until(lambda: all(len(h) == 2 for h in heard), timeout=15)
        assert heard == [["one", "two"], ["one", "two"]]
    finally:
        for consumer in consumers:
            consumer.stop()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive(), "stop() did not end the consumer"
    assert not any(c.connected.is_set() for c in consumers)


def test_a_consumer_without_a_broker_keeps_trying_and_never_raises(settings: Any) -> None:
    consumer = BroadcastConsumer(
        "amqp://guest:guest@127.0.0.1:1//",
        ["test.nothing"],
        lambda _: None,
        "disan.test.none",
        backoff=Backoff(0.05, 0.1),
    )
    failures = threading.Event()
    original = consumer.backoff.failed

    def failed() -> float:
        if consumer.backoff.failures >= 2:
            failures.set()
        return original()

    consumer.backoff.failed = failed  # type: ignore[method-assign]
    thread = consumer.start("broadcast-test-nobroker")
    try:
        assert failures.wait(15), "it did not retry"
        assert thread.is_alive()
        assert not consumer.connected.is_set()
    finally:
        consumer.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
