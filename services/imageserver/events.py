"""Cache purges from events: ``media.*`` and ``access.policy_changed`` on ``disan.events``
(plus, for a consumer that keeps access decisions, the account events that end sessions).

A purge is a broadcast (every image server replica must hear it) and losing one only serves a
stale tile until the cache entry ages out, so the queue is the exception docs/architecture.md
makes for purges: a non-durable, exclusive, auto-delete queue per process, not a reliable
handler queue.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from kombu import Connection, Queue, binding

from shared.bus import events_exchange

log = logging.getLogger(__name__)

__all__ = ["ACCESS_BINDINGS", "PURGE_BINDINGS", "PurgeConsumer", "purge_target"]

PURGE_BINDINGS = ("media.*", "access.policy_changed")
#: Events after which cached access decisions (sessions, tokens) may be wrong.
ACCESS_BINDINGS = (
    "access.record_visibility_changed",
    "access.logged_out",
    "access.user_roles_changed",
    "access.user_disabled",
    "access.password_changed",
)


def purge_target(body: Any) -> tuple[bool, str | None]:
    """From an event envelope: (purge at all?, the asset id or ``None`` for everything)."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return False, None
    if not isinstance(body, dict):
        return False, None
    kind = body.get("type")
    data = body.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return False, None
    asset_id = data.get("asset_id")
    if not asset_id and data.get("resource_kind") == "asset":
        asset_id = data.get("resource_id")  # access.policy_changed of one asset
    if isinstance(asset_id, str) and asset_id:
        return True, asset_id
    if kind.startswith("access."):
        return True, None  # a policy of a record or a role: forget every decision
    return False, None


def _is_access(body: Any) -> bool:
    if isinstance(body, bytes | str):
        body = json.loads(body)
    return str(body.get("type", "")).startswith("access.")


class PurgeConsumer(threading.Thread):
    """Consumes purge events until ``stop()``, reconnecting with backoff; never raises.

    With ``on_access``, ``access.*`` events go there instead of to ``on_purge`` (they change
    who may see an image, not the image) and the session-ending events are consumed too.
    """

    def __init__(
        self,
        amqp_uri: str,
        on_purge: Callable[[str | None], None],
        on_access: Callable[[str | None], None] | None = None,
    ) -> None:
        super().__init__(name="imageserver-purges", daemon=True)
        self.amqp_uri = amqp_uri
        self.on_purge = on_purge
        self.on_access = on_access
        self._stop_event = threading.Event()
        self.connected = threading.Event()
        self.queue_name = f"disan.imageserver.purge.{uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        self._stop_event.set()

    def _queue(self) -> Queue:
        return Queue(
            self.queue_name,
            bindings=[
                binding(events_exchange, routing_key=key)
                for key in PURGE_BINDINGS + (ACCESS_BINDINGS if self.on_access else ())
            ],
            durable=False,
            exclusive=True,
            auto_delete=True,
        )

    def _on_message(self, body: Any, message: Any) -> None:
        try:
            wanted, asset_id = purge_target(body)
            if wanted and self.on_access is not None and _is_access(body):
                self.on_access(asset_id)
            elif wanted:
                self.on_purge(asset_id)
        except Exception:  # noqa: BLE001 - a purge failure must not stop the consumer
            log.exception("purge failed")
        finally:
            message.ack()

    def run(self) -> None:
        delay = 0.5
        while not self._stop_event.is_set():
            try:
                with Connection(self.amqp_uri, heartbeat=30, connect_timeout=5) as conn:
                    conn.ensure_connection(max_retries=1)
                    events_exchange.bind(conn.default_channel).declare()
                    with conn.Consumer(
                        self._queue(), callbacks=[self._on_message], accept=["json"]
                    ):
                        self.connected.set()
                        delay = 0.5
                        log.info("listening for purge events on %s", self.queue_name)
                        while not self._stop_event.is_set():
                            try:
                                conn.drain_events(timeout=1)
                            except TimeoutError:
                                conn.heartbeat_check()
            except Exception as exc:  # noqa: BLE001 - broker down: serve on, retry later
                self.connected.clear()
                log.warning("purge consumer disconnected (%s); retrying in %.1fs", exc, delay)
                self._stop_event.wait(delay)
                delay = min(delay * 2, 30.0)
