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
  to ``disan.dead_letters`` with the error, the attempt count and the queue it came from;
- never lets the parking path or a broken connection kill its container: whatever parking
  raises, the original is requeued; acks and requeues over a connection the broker reset are
  logged (the broker redelivers, the claims make it a no-op) (ADR 0011).
"""

from __future__ import annotations

import functools
import json
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import eventlet
from kombu import Queue
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import SharedExtension
from nameko.messaging import Consumer, QueueConsumer
from prometheus_client import Counter

from shared.bus import (
    BROKER_GONE,
    DEAD_LETTERS,
    H_ATTEMPT,
    H_ERROR,
    H_ERROR_TYPE,
    H_FAILED_AT,
    H_QUEUE,
    ConfirmingPublisher,
    FrameReader,
    Outgoing,
    coalesced_writes,
    consumer_queue,
    retry_delay_ms,
    retry_queue,
)
from shared.db import DbSession
from shared.events import Event, EventError, load_event

log = logging.getLogger(__name__)

HANDLED = Counter("disan_events_handled_total", "Events handled", ["queue", "outcome"])

F = TypeVar("F", bound=Callable[..., Any])

PARK_FAILED_PAUSE = 1.0  # seconds before a message that could not be parked is requeued


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


def _decode_body(message: Any) -> Any:
    """The message's body as the handler gets it.

    JSON (what every producer sends) is parsed here with ``json.loads``, without kombu's
    serializer registry and its per-object hook (which turns kombu's own ``{"__type__": ...}``
    encodings of dates and the like into objects; envelopes are plain JSON and their contracts
    load any dates from strings). Anything else goes through kombu. A body that cannot be
    decoded is handed over as it came (bytes or text), so the handler dead-letters it as not
    an event, with the reason; kombu's consumers would log it and ack it: lost.
    """
    body = message.body
    if message.content_type == "application/json" and (
        message.content_encoding or "utf-8"
    ).lower() in ("utf-8", "utf8"):
        try:
            return json.loads(body)
        except ValueError:
            return body
    try:
        return message.decode()
    except Exception:  # noqa: BLE001 - not an event: dead-lettered by the handler
        log.warning("cannot decode a %s message; it goes to the dead letters", message.content_type)
        return body


def _header(message: Any, name: str, default: Any = None) -> Any:
    return (message.headers or {}).get(name, default)


def _attempt(message: Any) -> int:
    """The message's attempt number; 1 when its header is missing or not a number (a message
    another program sent with a header of that name must still be parked, not loop)."""
    value = _header(message, H_ATTEMPT, 1)
    try:
        return max(int(value), 1)
    except (TypeError, ValueError, OverflowError):
        return 1


class ReliableQueueConsumer(QueueConsumer):  # type: ignore[misc]
    """The queue consumer of reliable handlers.

    - prefetch covers batches, not just workers;
    - a message for a batch handler is queued for its batch right in the consumer's thread
      (nameko starts a green thread per message to do that); a full batch starts from a green
      thread of its own, so a busy worker pool never blocks the consumer's thread;
    - the consumer connection reads many frames per system call (:class:`FrameReader`);
    - acks go through a ledger of the channel's unsettled deliveries: when the messages being
      acknowledged together are, with everything delivered before them, the oldest unsettled
      ones, one ``basic_ack(multiple=True)`` frame acknowledges them all; any other is acked on
      its own (in one socket write with the rest). An ack still follows the commit of what it
      acknowledges and covers only messages being acknowledged now: a crash before the commit
      redelivers the whole batch, as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger_channel: Any = None
        self._ledger: dict[int, bool] = {}  # delivery tag -> settled, in delivery order

    @property
    def prefetch_count(self) -> int:
        batch = max((getattr(p, "batch", 1) for p in self._providers), default=1)
        return int(self.container.max_workers) * max(batch, 1)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        """Kombu's callback after each (re)connection: nameko's consumers, except that the
        raw message comes here and its body is decoded by :func:`_decode_body`."""
        FrameReader.install(getattr(channel.connection, "transport", None))
        for provider in self._providers:
            consumer = consumer_cls(
                queues=[provider.queue],
                on_message=functools.partial(self._receive, provider),
                accept=self.accept,
            )
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _receive(self, provider: Any, message: Any) -> None:
        self.handle_message(provider, _decode_body(message), message)

    def handle_message(self, provider: Any, body: Any, message: Any) -> None:
        channel = message.channel
        if channel is not self._ledger_channel:  # a new channel (reconnection): new tags
            self._ledger_channel, self._ledger = channel, {}
        self._ledger[message.delivery_tag] = False
        if getattr(provider, "batch", 1) > 1:
            provider.handle_message(body, message)
        else:
            super().handle_message(provider, body, message)

    def _forget(self, message: Any) -> None:
        if message.channel is self._ledger_channel:
            self._ledger.pop(message.delivery_tag, None)

    def ack_message(self, message: Any) -> None:
        self.ack_messages([message])

    def ack_messages(self, messages: list[Any]) -> None:
        """Acknowledge messages whose work is committed (or whose copy is parked)."""
        live = [m for m in messages if m.channel.connection]
        if not live:
            return
        channel = live[0].channel
        ledger = self._ledger if channel is self._ledger_channel else {}
        for message in live:
            if message.delivery_tag in ledger:
                ledger[message.delivery_tag] = True
        prefix = []  # the settled prefix: only tags being acked now
        for tag, settled in ledger.items():
            if not settled:
                break
            prefix.append(tag)
        for tag in prefix:
            del ledger[tag]
        covered = prefix[-1] if prefix else -1
        try:
            with coalesced_writes(getattr(channel.connection, "transport", None)):
                if covered >= 0:
                    channel.basic_ack(covered, multiple=True)
                for message in live:
                    if message.delivery_tag > covered:
                        ledger.pop(message.delivery_tag, None)
                        message.ack()
                    else:
                        message._state = "ACK"  # acked by the multiple ack: never again
        except BROKER_GONE:
            # the connection broke (reset, closed by a broker restart): the broker gives the
            # unacked messages back to the queue and the claims make their redelivery a no-op;
            # raising here would kill the container
            log.warning("could not ack %d message(s): connection lost", len(live))

    def requeue_message(self, message: Any) -> None:
        """Give ``message`` back to the broker; over a broken connection it has it back."""
        self._forget(message)
        try:
            super().requeue_message(message)
        except BROKER_GONE:
            log.warning("could not requeue a message: connection lost; the broker redelivers it")


class ReliableEventHandler(Consumer):  # type: ignore[misc]
    """The nameko entrypoint behind :func:`reliable_handler`."""

    retry_publisher = RetryPublisher()

    queue_consumer = ReliableQueueConsumer()

    def __init__(
        self, event_types: list[str], batch: int = 1, batch_wait: float = 0.005, **kwargs: Any
    ) -> None:
        self.event_types = event_types
        self.batch = batch
        self.batch_wait = batch_wait
        self._pending: list[tuple[Any, Any]] = []
        self._timer_armed = False
        self._counters: dict[str, Any] = {}
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
        self._settle(message, exc_info[1] if exc_info is not None else result)
        return result, exc_info

    def _settle(self, message: Any, outcome: Any) -> None:
        """Ack a handled message, or park a copy for retry / dead letters, then ack."""
        if self._can_ack(message, outcome):
            self.queue_consumer.ack_message(message)

    def _can_ack(self, message: Any, outcome: Any) -> bool:
        """True if ``message`` may be acked now: handled, or a copy parked for retry / dead
        letters; False if it was given back to the broker (its copy could not be parked)."""
        if not isinstance(outcome, BaseException):
            self._count("ok" if outcome is not DuplicateEvent else "duplicate")
            return True
        try:
            self._park_failure(message, outcome)
        except Exception:  # noqa: BLE001 - whatever it is, it must not kill the container
            # the copy is not safe (PublishError: nacked, dead letters full, connection lost;
            # or anything unforeseen): give the original back to the broker rather than lose
            # it, and keep the service running. Raising here would kill the whole container.
            log.exception("could not park failed message from %s; requeueing", self.queue_name)
            self._count("park_failed")
            # e.g. the dead letters are full (their policy refuses more): not a tight loop
            eventlet.sleep(PARK_FAILED_PAUSE)
            self._requeue_quietly(message)
            return False
        return True

    def _requeue_quietly(self, message: Any) -> None:
        """Give ``message`` back; over a lost connection the broker has it back already."""
        try:
            self.queue_consumer.requeue_message(message)
        except BROKER_GONE:
            log.warning("could not requeue a message of %s: connection lost", self.queue_name)

    def _count(self, outcome: str, n: int = 1) -> None:
        child = self._counters.get(outcome)
        if child is None:
            child = self._counters[outcome] = HANDLED.labels(self.queue_name, outcome)
        child.inc(n)

    # batches -------------------------------------------------------------------------------
    def handle_message(self, body: Any, message: Any) -> None:
        if self.batch <= 1:
            super().handle_message(body, message)
            return
        self._pending.append((body, message))
        if len(self._pending) >= self.batch:
            # this runs in the consumer's thread: a full worker pool must not block it (it
            # reads the connection and sends its heartbeats), so the batch starts in its own
            pending, self._pending = self._pending, []
            self.container.spawn_managed_thread(
                functools.partial(self._start_batch, pending), identifier="batch"
            )
        elif not self._timer_armed:
            self._timer_armed = True
            self.container.spawn_managed_thread(self._flush_later, identifier="batch-timer")

    def _flush_later(self) -> None:
        eventlet.sleep(self.batch_wait)
        self._timer_armed = False
        self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._start_batch(pending)

    def _start_batch(self, pending: list[tuple[Any, Any]]) -> None:
        if not pending:
            return
        messages = [m for _, m in pending]
        try:
            self.container.spawn_worker(
                self,
                ([b for b, _ in pending],),
                {},
                context_data={},
                handle_result=functools.partial(self._handle_batch_result, messages),
            )
        except ContainerBeingKilled:
            for message in messages:
                self.queue_consumer.requeue_message(message)

    def _handle_batch_result(
        self, messages: list[Any], worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        outcomes = result if exc_info is None else [exc_info[1]] * len(messages)
        done = [
            message
            for message, outcome in zip(messages, outcomes, strict=True)
            if self._can_ack(message, outcome)
        ]
        self.queue_consumer.ack_messages(done)  # after the batch's commit (in the worker)
        return result, exc_info

    def _park_failure(self, message: Any, exc: BaseException) -> None:
        events = self.settings.events
        attempt = _attempt(message)
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
        publisher.publish([out])
        self._count(outcome)


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


def reliable_handler(*event_types: str, batch: int = 1, bulk: bool = False) -> Callable[[F], F]:
    """Decorate ``method(self, event: Event)`` to handle events of the given types reliably.

    The method runs inside the service's database transaction, after the event id has been
    claimed for it; a redelivered event is acknowledged without calling it again.

    With ``batch > 1`` up to that many waiting events are handled in one transaction (one claim
    statement, one commit), for high-volume handlers such as the event journal. If any event of
    a batch fails, the batch is rolled back and its events are handled one by one, so only the
    failing ones are retried.

    With ``bulk=True`` the method is ``method(self, events: list[Event])``: it gets the batch's
    newly claimed events at once (in delivery order, duplicates left out) and can apply them in
    a few statements; when the batch falls back to one by one, it gets lists of one.
    """
    if not event_types:
        raise ValueError("reliable_handler needs at least one event type")
    if bulk and batch <= 1:
        raise ValueError("a bulk handler needs batch > 1")

    def decorator(fn: F) -> F:
        def key_of(service: Any) -> str:
            return f"{getattr(type(service), 'name', type(service).__name__)}.{fn.__name__}"

        def handle_one(self: Any, db: DbSession, event: Event) -> Any:
            if not db.claim(event.event_id, key_of(self)):
                log.info("event %s already handled by %s; skipped", event.event_id, key_of(self))
                return DuplicateEvent
            return fn(self, [event]) if bulk else fn(self, event)

        @functools.wraps(fn)
        def wrapper(self: Any, body: Any) -> Any:
            event = _parse(body)
            db = _find_db(self)
            # nameko acks (handle_result) before dependencies see the result, so the work is
            # committed here: an ack must never precede the commit of what it acknowledges
            try:
                result = handle_one(self, db, event)
                db.commit()
            except BaseException:
                db.rollback()
                raise
            return result

        @functools.wraps(fn)
        def batch_wrapper(self: Any, bodies: list[Any]) -> list[Any]:
            outcomes: list[Any] = [None] * len(bodies)
            events: list[tuple[int, Event]] = []
            for i, body in enumerate(bodies):
                try:
                    events.append((i, _parse(body)))
                except PoisonMessage as exc:
                    outcomes[i] = exc
            db = _find_db(self)
            try:
                claimed = db.claim_many([e.event_id for _, e in events], key_of(self))
                new: list[tuple[int, Event]] = []
                for i, event in events:
                    if event.event_id in claimed:
                        claimed.discard(event.event_id)  # a second copy in the batch: duplicate
                        new.append((i, event))
                    else:
                        outcomes[i] = DuplicateEvent
                if not bulk:
                    for i, event in new:
                        outcomes[i] = fn(self, event)
                elif new:
                    fn(self, [event for _, event in new])
                db.commit()
                return outcomes
            except Exception:  # noqa: BLE001 - isolate the failing event below
                db.rollback()
                log.warning(
                    "batch of %d failed in %s; handling one by one",
                    len(events),
                    key_of(self),
                    exc_info=True,
                )
            for i, event in events:
                try:
                    outcomes[i] = handle_one(self, db, event)
                    db.commit()
                except Exception as exc:  # noqa: BLE001 - settled per message by the entrypoint
                    db.rollback()
                    outcomes[i] = exc
            return outcomes

        entrypoint = ReliableEventHandler.decorator(list(event_types), batch=batch)
        return entrypoint(batch_wrapper if batch > 1 else wrapper)  # type: ignore[no-any-return]

    return decorator


def _parse(body: Any) -> Event:
    try:
        return load_event(body)
    except EventError as exc:
        raise PoisonMessage(str(exc)) from exc
