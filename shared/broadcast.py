"""The one broadcast consumer: events on a queue of this process's own, for cache purges only.

Every replica that keeps a cache (the gateway's credentials and policies, the image server's
tiles and decisions, each Cantaloupe purger) must hear every purge, so each listens on a
non-durable, exclusive, auto-delete queue of its own bound to ``disan.events``. Losing an event
while disconnected only serves a stale cache entry until it ages out, which is why this is the
exception the architecture makes for purges and never carries data: data goes through reliable
handlers (``shared.consumer``).

The consumer reconnects with ``shared.backoff`` and never raises: a broken callback is logged and
its message acked. ``run()`` blocks (a nameko managed thread runs it in the gateway);
``start()`` runs it on a daemon thread of its own (the image server, the purger).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from kombu import Connection, Queue, binding

from shared.backoff import Backoff
from shared.bus import events_exchange

log = logging.getLogger(__name__)

Envelope = dict[str, Any]


def _declare_events_exchange(conn: Connection) -> None:
    events_exchange.bind(conn.default_channel).declare()


class BroadcastConsumer:
    """Consumes the events of ``routing_keys`` until ``stop()``, reconnecting; never raises.

    ``on_event`` gets each event's envelope (a dict); ``on_connect`` runs after every
    (re)connection, before the first event, for whoever must assume it missed some. Each
    connection gets a fresh queue name (``queue_prefix`` and a random tail): a half-dead earlier
    connection can never keep the exclusive queue locked.
    """

    def __init__(
        self,
        amqp_uri: str,
        routing_keys: Sequence[str],
        on_event: Callable[[Envelope], None],
        queue_prefix: str,
        *,
        on_connect: Callable[[], None] | None = None,
        declare: Callable[[Connection], None] = _declare_events_exchange,
        backoff: Backoff | None = None,
        heartbeat: int = 30,
        poll_seconds: float = 1.0,
    ) -> None:
        self.amqp_uri = amqp_uri
        self.routing_keys = tuple(routing_keys)
        self.on_event = on_event
        self.queue_prefix = queue_prefix
        self.on_connect = on_connect
        self.declare = declare
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.heartbeat = heartbeat
        self.poll_seconds = poll_seconds
        self.queue_name = self._new_queue_name()
        self.connected = threading.Event()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def _new_queue_name(self) -> str:
        return f"{self.queue_prefix}.{uuid.uuid4().hex[:12]}"

    def start(self, name: str = "broadcast-consumer") -> threading.Thread:
        """Run on a daemon thread of its own; the thread is returned."""
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread ``start()`` made to end (after ``stop()``)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        return self._stop_event.is_set()

    def run(self) -> None:
        """Consume until ``stop()``: reconnect after any failure, after a growing pause."""
        while not self.stopped:
            try:
                self._consume()
            except Exception as exc:  # noqa: BLE001 - broker down or gone: serve on, retry later
                self.connected.clear()
                if self.stopped:
                    break
                pause = self.backoff.failed()
                log.warning(
                    "broadcast consumer %s disconnected (%s); retrying in %.1fs",
                    self.queue_prefix,
                    exc,
                    pause,
                )
                self._stop_event.wait(pause)
        self.connected.clear()

    def _queue(self) -> Queue:
        return Queue(
            self.queue_name,
            bindings=[binding(events_exchange, routing_key=key) for key in self.routing_keys],
            durable=False,
            exclusive=True,
            auto_delete=True,
        )

    def _consume(self) -> None:
        self.queue_name = self._new_queue_name()
        with Connection(self.amqp_uri, heartbeat=self.heartbeat, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            self.declare(conn)
            with conn.Consumer(
                self._queue(),
                callbacks=[self._on_message],
                accept=["json"],
                on_decode_error=self._on_decode_error,
            ):
                self.connected.set()
                self.backoff.reset()
                log.info("listening for broadcast events on %s", self.queue_name)
                if self.on_connect is not None:
                    self.on_connect()
                while not self.stopped:
                    try:
                        conn.drain_events(timeout=self.poll_seconds)
                    except TimeoutError:
                        if self.heartbeat:
                            conn.heartbeat_check()

    def _on_decode_error(self, message: Any, exc: Exception) -> None:
        """A body that does not decode is dropped, not raised: raised, it would cost the
        connection, and with it the queue and every purge sent until the next one."""
        log.warning("broadcast event on %s does not decode (%s); dropped", self.queue_name, exc)
        message.ack()

    def _on_message(self, body: Any, message: Any) -> None:
        try:
            if isinstance(body, bytes | str):
                body = json.loads(body)
            if isinstance(body, dict):
                self.on_event(body)
            else:
                log.warning("broadcast event on %s is not an envelope; ignored", self.queue_name)
        except Exception:  # noqa: BLE001 - a bad event or callback must not stop the consumer
            log.exception("broadcast event on %s could not be applied", self.queue_name)
        finally:
            message.ack()
