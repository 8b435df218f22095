"""The outbox relay: publishes committed events from a service's outbox table, then marks them.

A batch is locked (``FOR UPDATE SKIP LOCKED``, so replicas share the work), published with
confirms, and marked sent in the same transaction. A relay that dies after publishing and before
marking leaves the rows unsent: they are published again, and consumers drop the duplicate by
``event_id``. At-least-once, never lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import Engine, text

from shared.backoff import Backoff
from shared.bus import EVENTS_EXCHANGE, ConfirmingPublisher, Outgoing, PublishError, Unroutable
from shared.db import make_engine

log = logging.getLogger(__name__)

RELAYED = Counter("disan_outbox_relayed_total", "Events published from an outbox", ["schema"])
RELAY_ERRORS = Counter("disan_outbox_errors_total", "Failed outbox publish attempts", ["schema"])
UNROUTABLE = Counter(
    "disan_outbox_unroutable_total", "Events the broker returned as unroutable", ["schema"]
)

# the envelope as PostgreSQL's JSON text, sent as is: no parsing and re-serialising per event
_SELECT = text(
    "SELECT id, event_id::text, type, envelope::text, envelope->>'producer', "
    "envelope->>'correlation_id' FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT :n "
    "FOR UPDATE SKIP LOCKED"
)
_MARK = text("UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY(:ids)")


def to_outgoing(envelope: dict[str, Any]) -> Outgoing:
    """The AMQP message of an event envelope, on ``disan.events`` by its type."""
    return Outgoing(
        exchange=EVENTS_EXCHANGE,
        routing_key=envelope["type"],
        body=json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
        message_id=envelope["event_id"],
        correlation_id=envelope.get("correlation_id"),
        headers={"x-disan-producer": envelope.get("producer", "")},
    )


def _outgoing(row: Any) -> Outgoing:
    """The AMQP message of one selected outbox row (same message as :func:`to_outgoing`)."""
    _, event_id, event_type, body, producer, correlation_id = row
    return Outgoing(
        exchange=EVENTS_EXCHANGE,
        routing_key=event_type,
        body=body.encode("utf-8"),
        message_id=event_id,
        correlation_id=correlation_id,
        headers={"x-disan-producer": producer or ""},
    )


def relay_once(
    engine: Engine,
    publisher: ConfirmingPublisher,
    batch: int = 500,
    schema: str = "",
    after_publish: Callable[[list[int]], None] | None = None,
) -> int:
    """Publish one batch of unsent events; return how many were sent."""
    with engine.connect() as conn:
        rows = conn.execute(_SELECT, {"n": batch}).all()
        if not rows:
            conn.rollback()
            return 0
        ids = [r[0] for r in rows]
        try:
            publisher.publish([_outgoing(r) for r in rows])
        except PublishError as exc:
            conn.rollback()
            RELAY_ERRORS.labels(schema).inc()
            if isinstance(exc, Unroutable):
                UNROUTABLE.labels(schema).inc()
            raise
        if after_publish is not None:
            after_publish(ids)
        conn.execute(_MARK, {"ids": ids})
        conn.commit()
    RELAYED.labels(schema).inc(len(ids))
    return len(ids)


def relay_backoff(idle_seconds: float) -> Backoff:
    """The relay's pause after failures (broker or database away): twice its idle pause, at
    least 0.5 s, doubling up to 10 s; a success starts again from there."""
    return Backoff(max(idle_seconds * 2, 0.5), 10.0)


class OutboxRelay(DependencyProvider):  # type: ignore[misc]
    """Runs the relay loop in a managed green thread of the service that owns the outbox."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.engine: Engine | None = None
        self.publisher: ConfirmingPublisher | None = None
        self._running = False
        self._gt: Any = None

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        self.settings = settings
        self.engine = make_engine(settings.database_url, self.schema, pool_size=2)
        self.publisher = ConfirmingPublisher(settings.amqp_uri)

    def start(self) -> None:
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._loop, identifier="outbox-relay")

    def _loop(self) -> None:
        assert self.engine is not None and self.publisher is not None
        batch = self.settings.events.relay_batch
        idle = self.settings.events.relay_idle_seconds
        pause = relay_backoff(idle)
        while self._running:
            try:
                sent = relay_once(self.engine, self.publisher, batch, self.schema)
                pause.reset()
            except Exception as exc:  # noqa: BLE001 - keep relaying after broker/DB outages
                log.warning("outbox relay for %s failed: %s", self.schema, exc)
                eventlet.sleep(pause.failed())
                continue
            if sent == 0:
                eventlet.sleep(idle)
            elif sent < batch:
                eventlet.sleep(0)  # let the service's workers run; then take what came since

    def stop(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.wait()
        self._close()

    def kill(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self._close()

    def _close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        if self.engine is not None:
            self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
