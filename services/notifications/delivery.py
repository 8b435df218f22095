"""The webhook delivery loop: leases due deliveries, POSTs them concurrently, records outcomes.

One green thread per container polls ``deliveries`` (``FOR UPDATE SKIP LOCKED``, so replicas
share the work) and hands each leased delivery to a green pool of ``concurrency`` threads. Each
subscription has at most ``per_subscription`` requests in flight, and each request has a
connect timeout and an overall deadline: a receiver that hangs holds a few slots of its own
and nobody else's. Outcomes are written in batches (one statement per loop turn), so the
database sees a few writes per second, not one per delivery.

Every attempt resolves the target again and checks every address (DNS rebinding), then connects
to the checked address itself (the ``Host`` header and TLS name stay the URL's host): the name
cannot resolve elsewhere between the check and the connection. Redirects are never followed.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import eventlet.event
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine

from services.notifications import domain
from services.notifications import repository as repo
from services.notifications.sender import Sender
from shared.db import Database, insert_outbox
from shared.events import make_event
from shared.languages import vi_first_deep

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "disan_notifications_deliveries_total", "Webhook delivery attempts", ["outcome"]
)
DELAY = Histogram(
    "disan_notifications_delivery_seconds",
    "Webhook request duration",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
USER_AGENT = "Disan-Webhooks/1"


def resolve(target: domain.Target, allow_loopback: bool) -> list[str]:
    """The target's addresses, every one of them allowed; raises ``domain.Refused``."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise domain.Refused(f"{target.host} does not resolve ({exc})", "unresolvable") from None
    return domain.check_addresses(target.host, [str(i[4][0]) for i in infos], allow_loopback)


def check_url(url: Any, settings: domain.WebhookSettings) -> domain.Target:
    """A subscription's URL, checked for form and for every address it resolves to now."""
    target = domain.parse_target(url, settings.require_https)
    resolve(target, settings.allow_loopback)
    return target


def body_of(envelope: dict[str, Any]) -> bytes:
    """The signed body of a delivery: the envelope with every language map ``vi`` first (the
    stored jsonb lists ``en`` first; partners read the first language, ADR 0048)."""
    ordered = vi_first_deep(envelope)
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def attempt(
    row: dict[str, Any], settings: domain.WebhookSettings, sender: Sender, now: datetime
) -> dict[str, Any]:
    """One POST of one delivery; its outcome as ``repository.record_results`` takes it."""
    envelope = row["envelope"]
    body = body_of(envelope)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        domain.SIGNATURE_HEADER: domain.sign(row["secret"], body, int(time.time())),
        "X-Disan-Event-Id": str(envelope["event_id"]),
        "X-Disan-Event-Type": str(envelope["type"]),
        "X-Disan-Delivery-Id": str(row["id"]),
        "X-Disan-Attempt": str(int(row["attempts"])),  # counted when leased
    }
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        target = domain.parse_target(row["url"], settings.require_https)
        address = resolve(target, settings.allow_loopback)[0]
        with eventlet.Timeout(settings.timeout_seconds + settings.connect_timeout_seconds):
            status = sender.post(str(row["subscription_id"]), target, address, body, headers)
        if not 200 <= status < 300:
            error = f"HTTP {status}" + (
                " (redirects are not followed)" if 300 <= status < 400 else ""
            )
    except domain.Refused as exc:
        error = f"refused: {exc}"
    except (eventlet.Timeout, TimeoutError):
        error = "timed out"
    except Exception as exc:  # noqa: BLE001 - any network failure is a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:500]
    elapsed = time.monotonic() - started
    DELAY.observe(elapsed)
    ok = not error
    result: dict[str, Any] = {
        "id": str(row["id"]),
        "attempt": int(row["attempts"]),
        "ok": ok,
        "dead": False,
        "status": status,
        "error": error[:1000],
        "ms": int(elapsed * 1000),
        "next": None,
    }
    if not ok:
        attempts = int(row["attempts"])
        next_at = now + timedelta(seconds=domain.retry_delay(attempts, settings))
        created: datetime = row["created_at"]
        if next_at > created + timedelta(seconds=settings.retry_window_seconds):
            result["dead"] = True
        else:
            result["next"] = next_at.isoformat()
    DELIVERIES.labels("delivered" if ok else "dead" if result["dead"] else "failed").inc()
    return result


class DeliveryWorker(DependencyProvider):  # type: ignore[misc]
    """Runs the delivery loop in a managed green thread; RPCs get it to ``wake()`` it."""

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        raw = (settings.extra.get("notifications") or {}).get("webhooks")
        self.settings = domain.WebhookSettings.from_config(raw, settings.production)
        self.engine: Engine | None = None
        self._running = False
        self._gt: Any = None
        self._wake = eventlet.event.Event()
        self._hot_until = 0.0
        self._results: list[dict[str, Any]] = []
        self._in_flight: dict[str, int] = defaultdict(int)
        self._pool = GreenPool(self.settings.concurrency)
        self.sender = Sender(self.settings)

    def start(self) -> None:
        for dependency in self.container.dependencies:
            if isinstance(dependency, Database):
                self.engine = dependency.engine
        if self.engine is None:
            raise RuntimeError("the delivery worker needs the service's Database")
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._loop, identifier="webhook-delivery")

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._gt is not None:
            self._gt.wait()
        self._pool.waitall()
        self._flush()
        self.sender.close()

    def kill(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self.sender.close()

    def get_dependency(self, worker_ctx: Any) -> DeliveryWorker:
        return self

    def wake(self) -> None:
        """New work may be committed soon: poll quickly for a second."""
        self._hot_until = time.monotonic() + 1.0
        if not self._wake.ready():
            self._wake.send(True)

    # the loop ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        idle = self.settings.idle_poll_seconds
        while self._running:
            try:
                self._flush()
                claimed = self._claim()
            except Exception as exc:  # noqa: BLE001 - keep delivering after a database outage
                log.warning("webhook delivery loop failed: %s", exc)
                eventlet.sleep(1.0)
                continue
            busy = claimed or self._results or self._pool.running()
            if busy or time.monotonic() < self._hot_until:
                eventlet.sleep(self.settings.poll_seconds)
            else:
                with eventlet.Timeout(idle, False):
                    self._wake.wait()
                self._wake = eventlet.event.Event()

    def _claim(self) -> int:
        free = self._pool.free()
        if free <= 0 or self.engine is None:
            return 0
        cap = self.settings.per_subscription
        room = {sub: max(cap - n, 0) for sub, n in self._in_flight.items() if n}
        with self.engine.connect() as conn:
            rows = repo.claim_due(
                conn,
                min(free, self.settings.batch),
                cap,
                room,
                self.settings.timeout_seconds + self.settings.connect_timeout_seconds + 60,
            )
            conn.commit()
        for row in rows:
            sub = str(row["subscription_id"])
            self._in_flight[sub] += 1
            self._pool.spawn_n(self._deliver, sub, row)
        return len(rows)

    def _deliver(self, sub: str, row: dict[str, Any]) -> None:
        try:
            result = attempt(row, self.settings, self.sender, datetime.now(UTC))
            # appended only now: ``_flush`` swaps the list while requests are in flight
            self._results.append(result)
        finally:
            self._in_flight[sub] -= 1
            if self._in_flight[sub] <= 0:
                self._in_flight.pop(sub, None)

    def _flush(self) -> None:
        results, self._results = self._results, []
        if not results or self.engine is None:
            return
        try:
            with self.engine.connect() as conn:
                outcomes = repo.record_results(conn, results, self.settings.pause_after_failures)
                events = [
                    make_event(
                        "notifications.delivery_failed",
                        {
                            "delivery_id": o["id"],
                            "subscription_id": o["sub"],
                            "event_id": o["event_id"],
                            "event_type": o["event_type"],
                            "attempts": o["attempts"],
                            "last_error": (o["error"] or "")[:2000],
                        },
                        producer="notifications",
                    )
                    for o in outcomes
                    if o["kind"] == "delivery"
                ]
                events += self._paused_events(conn, [o for o in outcomes if o["kind"] == "paused"])
                insert_outbox(conn, events)
                conn.commit()
        except Exception:
            self._results = results + self._results  # written on the next turn
            raise

    def _paused_events(self, conn: Any, paused: list[dict[str, Any]]) -> list[Any]:
        """Announce each subscription paused by this batch (once: the reason row is new)."""
        events = []
        for o in paused:
            if not repo.claim_pause_announcement(conn, o["id"]):
                continue
            events.append(
                make_event(
                    "notifications.subscription_paused",
                    {
                        "subscription_id": o["id"],
                        "owner": o["owner"],
                        "consecutive_failures": o["attempts"],
                        "reason": (o["error"] or "")[:2000],
                    },
                    producer="notifications",
                )
            )
        return events
