"""Reliable event handlers: durable queues, dedupe by ``event_id``, backoff, dead letters.

nameko's own ``event_handler`` acks and forgets a message whose handler raised (or requeues it in
a tight loop). ``reliable_handler`` instead:

- consumes a durable queue ``disan.{service}.{method}`` bound to ``disan.events``;
- validates the envelope and its contract; a message that cannot be parsed goes straight to the
  dead letters (retrying cannot fix it);
- claims ``(event_id, handler)`` in the service's database in the same transaction as the work,
  so a redelivered event changes state once;
- on failure, acks the message only after a copy is safely parked in ``disan.retry.{delay}``,
  which sends it back after an exponentially growing delay; after ``max_attempts`` the copy goes
  to ``disan.dead_letters`` with the error, the attempt count and the queue it came from.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kombu import Queue
from nameko.extensions import SharedExtension
from nameko.messaging import Consumer
from prometheus_client import Counter

from shared.bus import (
    DEAD_LETTERS,
    H_ATTEMPT,
    H_ERROR,
    H_ERROR_TYPE,
    H_FAILED_AT,
    H_QUEUE,
    ConfirmingPublisher,
    Outgoing,
    PublishError,
    consumer_queue,
    retry_delay_ms,
    retry_queue,
)
from shared.db import DbSession
from shared.events import Event, EventError, load_event

log = logging.getLogger(__name__)

HANDLED = Counter("disan_events_handled_total", "Events handled", ["queue", "outcome"])

F = TypeVar("F", bound=Callable[..., Any])


class PoisonMessage(EventError):
    """A message no retry can fix (not an envelope, unknown contract); dead-lettered at once."""


class DuplicateEvent:
    """Sentinel result of a redelivered event that was skipped."""


class RetryPublisher(SharedExtension):  # type: ignore[misc]
    """One confirming publisher per container, shared by its reliable handlers."""

    def setup(self) -> None:
        self.settings = self.container.config["DISAN_SETTINGS"]
        self.publisher = ConfirmingPublisher(self.settings.amqp_uri)

    def stop(self) -> None:
        self.publisher.close()

    kill = stop


def _header(message: Any, name: str, default: Any = None) -> Any:
    return (message.headers or {}).get(name, default)


class ReliableEventHandler(Consumer):  # type: ignore[misc]
    """The nameko entrypoint behind :func:`reliable_handler`."""

    retry_publisher = RetryPublisher()

    def __init__(self, event_types: list[str], **kwargs: Any) -> None:
        self.event_types = event_types
        super().__init__(queue=None, **kwargs)

    @property
    def queue_name(self) -> str:
        return str(self.queue.name)

    def setup(self) -> None:
        self.queue = consumer_queue(self.container.service_name, self.method_name, self.event_types)
        self.settings = self.container.config["DISAN_SETTINGS"]
        super().setup()

    def handle_result(
        self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        if exc_info is None:
            HANDLED.labels(
                self.queue_name, "ok" if result is not DuplicateEvent else "duplicate"
            ).inc()
            self.queue_consumer.ack_message(message)
            return result, exc_info
        try:
            self._park_failure(message, exc_info[1])
        except PublishError:
            # the copy is not safe: give the original back to the broker rather than lose it
            log.exception("could not park failed message from %s; requeueing", self.queue_name)
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _park_failure(self, message: Any, exc: BaseException) -> None:
        events = self.settings.events
        attempt = int(_header(message, H_ATTEMPT, 1))
        headers = dict(message.headers or {})
        headers.update(
            {
                H_QUEUE: self.queue_name,
                H_ERROR: f"{type(exc).__name__}: {exc}"[:2000],
                H_ERROR_TYPE: type(exc).__name__,
                H_FAILED_AT: datetime.now(UTC).isoformat(),
            }
        )
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        props = message.properties or {}
        publisher = self.retry_publisher.publisher
        if isinstance(exc, PoisonMessage) or attempt >= events.max_attempts:
            headers[H_ATTEMPT] = attempt
            headers["x-disan-traceback"] = "".join(traceback.format_exception(exc))[-4000:]
            out = Outgoing("", DEAD_LETTERS, body, headers, str(props.get("message_id") or ""))
            outcome = "dead_lettered"
            log.error(
                "dead-lettered message from %s after %d attempt(s): %s",
                self.queue_name,
                attempt,
                headers[H_ERROR],
            )
        else:
            delay = retry_delay_ms(attempt, events.retry_base_seconds, events.retry_max_seconds)
            exchange, queue = retry_queue(delay)
            with publisher.lock:
                publisher.declare(exchange, queue)
            headers[H_ATTEMPT] = attempt + 1
            out = Outgoing(
                str(exchange.name),
                self.queue_name,
                body,
                headers,
                str(props.get("message_id") or ""),
            )
            outcome = "retried"
            log.warning(
                "handler %s failed (attempt %d), retry in %d ms: %s",
                self.queue_name,
                attempt,
                delay,
                headers[H_ERROR],
            )
        out.content_type = message.content_type or "application/json"
        out.content_encoding = message.content_encoding or "utf-8"
        with publisher.lock:
            publisher.publish([out])
        HANDLED.labels(self.queue_name, outcome).inc()


def handler_queues(service_name: str, service_cls: type) -> list[Queue]:
    """The queues of a service class's reliable handlers, to declare before it first runs."""
    queues = []
    for attr in dir(service_cls):
        for ep in getattr(getattr(service_cls, attr, None), "nameko_entrypoints", ()):
            if isinstance(ep, ReliableEventHandler):
                queues.append(consumer_queue(service_name, attr, ep.event_types))
    return queues


def _find_db(service: Any) -> DbSession:
    for value in vars(service).values():
        if isinstance(value, DbSession):
            return value
    raise RuntimeError(f"{type(service).__name__} has no Database dependency for reliable handlers")


def reliable_handler(*event_types: str) -> Callable[[F], F]:
    """Decorate ``method(self, event: Event)`` to handle events of the given types reliably.

    The method runs inside the service's database transaction, after the event id has been
    claimed for it; a redelivered event is acknowledged without calling it again.
    """
    if not event_types:
        raise ValueError("reliable_handler needs at least one event type")

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: Any, body: Any) -> Any:
            try:
                event: Event = load_event(body)
            except EventError as exc:
                raise PoisonMessage(str(exc)) from exc
            handler_key = f"{getattr(type(self), 'name', type(self).__name__)}.{fn.__name__}"
            db = _find_db(self)
            # nameko acks (handle_result) before dependencies see the result, so the work is
            # committed here: an ack must never precede the commit of what it acknowledges
            try:
                if not db.claim(event.event_id, handler_key):
                    db.commit()
                    log.info("event %s already handled by %s; skipped", event.event_id, handler_key)
                    return DuplicateEvent
                result = fn(self, event)
                db.commit()
            except BaseException:
                db.rollback()
                raise
            return result

        entrypoint = ReliableEventHandler.decorator(list(event_types))
        return entrypoint(wrapper)  # type: ignore[no-any-return]

    return decorator
