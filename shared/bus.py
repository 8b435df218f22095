"""RabbitMQ topology and the one way Disan publishes: batches with publisher confirms.

Topology (all durable):
- ``disan.events`` (topic): every domain event, routing key = event type. Its alternate exchange
  ``disan.unrouted`` (fanout) feeds the queue ``disan.unrouted``, so an event no queue is bound to
  receive is kept, never dropped.
- one queue per reliable handler, ``disan.{service}.{method}``, bound to ``disan.events`` by event
  type and to ``disan.requeue`` (direct) by its own name, through which retries come back.
- ``disan.retry.{ms}ms``: a fanout exchange and a queue whose messages wait ``ms`` and then
  dead-letter to ``disan.requeue`` with their routing key (the target queue's name) intact.
- ``disan.dead_letters``: messages that failed every attempt, with the error in their headers.

The two parking queues (``disan.unrouted``, ``disan.dead_letters``) are bounded by a RabbitMQ
*policy* (``disan-parking``: ``max-length`` with ``overflow: reject-publish``), not by queue
arguments: arguments cannot change on an existing queue (redeclaring fails with
PRECONDITION_FAILED), a policy applies to existing and new queues alike and can be changed at
run time. When a parking queue is full the broker nacks what would go there: the relay keeps
the events in its outbox and retries, a failed handler's message is requeued, nothing is dropped.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import amqp
import kombu.exceptions
from kombu import Connection, Exchange, Queue, binding

from shared import backoff

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = "disan.events"
UNROUTED = "disan.unrouted"
REQUEUE_EXCHANGE = "disan.requeue"
DEAD_LETTERS = "disan.dead_letters"
RETRY_PREFIX = "disan.retry."

H_ATTEMPT = "x-disan-attempt"
H_QUEUE = "x-disan-queue"
H_ERROR = "x-disan-error"
H_ERROR_TYPE = "x-disan-error-type"
H_FAILED_AT = "x-disan-failed-at"

PARKING_POLICY = "disan-parking"
PARKING_PATTERN = r"^disan\.(unrouted|dead_letters)$"

unrouted_exchange = Exchange(UNROUTED, type="fanout", durable=True)
events_exchange = Exchange(
    EVENTS_EXCHANGE, type="topic", durable=True, arguments={"alternate-exchange": UNROUTED}
)
requeue_exchange = Exchange(REQUEUE_EXCHANGE, type="direct", durable=True)
unrouted_queue = Queue(UNROUTED, exchange=unrouted_exchange, routing_key="", durable=True)
dead_letter_queue = Queue(DEAD_LETTERS, durable=True)


#: what talking to a broker that went away raises (py-amqp: OSError and its ConnectionError,
#: ``RecoverableConnectionError`` "connection already closed" and other AMQP errors; kombu:
#: ``OperationalError`` once its retries are spent)
BROKER_GONE: tuple[type[BaseException], ...] = (
    OSError,
    amqp.exceptions.AMQPError,
    kombu.exceptions.OperationalError,
)


class PublishError(Exception):
    """The broker did not confirm a publish (nack, timeout, lost connection)."""


class Unroutable(PublishError):
    """The broker confirmed but returned messages no queue (nor alternate exchange) took."""


def parking_policy(max_messages: int) -> dict[str, Any]:
    """The definition of the policy bounding the parking queues to ``max_messages``."""
    return {"max-length": max_messages, "overflow": "reject-publish"}


def consumer_queue_name(service: str, method: str) -> str:
    return f"disan.{service}.{method}"


def consumer_queue(service: str, method: str, event_types: Sequence[str]) -> Queue:
    """The durable queue of one reliable handler, with its event and requeue bindings."""
    name = consumer_queue_name(service, method)
    bindings = [binding(events_exchange, routing_key=t) for t in event_types]
    bindings.append(binding(requeue_exchange, routing_key=name))
    return Queue(name, bindings=bindings, durable=True, auto_delete=False)


def retry_queue(delay_ms: int) -> tuple[Exchange, Queue]:
    """The waiting room for retries after ``delay_ms``; one per distinct delay."""
    name = f"{RETRY_PREFIX}{delay_ms}ms"
    exchange = Exchange(name, type="fanout", durable=True)
    queue = Queue(
        name,
        exchange=exchange,
        routing_key="",
        durable=True,
        queue_arguments={"x-message-ttl": delay_ms, "x-dead-letter-exchange": REQUEUE_EXCHANGE},
    )
    return exchange, queue


def retry_delay_ms(attempt: int, base_seconds: float, max_seconds: float) -> int:
    """Exponential backoff: base, 2·base, 4·base … capped, for the retry after ``attempt``."""
    return max(int(backoff.exponential(attempt, base_seconds, max_seconds) * 1000), 1)


def declare_base(conn: Connection) -> None:
    """Declare the exchanges and queues every service relies on (idempotent)."""
    channel = conn.default_channel
    for entity in (unrouted_exchange, events_exchange, requeue_exchange):
        entity.bind(channel).declare()
    unrouted_queue.bind(channel).declare()
    dead_letter_queue.bind(channel).declare()


def declare_queue(conn: Connection, queue: Queue) -> None:
    """Declare one handler queue and its bindings; ``declare_base`` must have run first."""
    queue.bind(conn.default_channel).declare()


@dataclass
class Outgoing:
    """One message to publish: raw body bytes plus AMQP properties."""

    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    content_type: str = "application/json"
    content_encoding: str = "utf-8"
    correlation_id: str | None = None


@contextlib.contextmanager
def coalesced_writes(transport: Any, flush_at: int = 256 * 1024) -> Iterator[None]:
    """Frames written meanwhile leave in a few large socket writes, not one system call each.

    py-amqp writes every frame with ``transport._write`` (``sendall`` for TCP); for the
    duration of the block that is pointed at a buffer, sent whenever it holds ``flush_at``
    bytes and at the end. Without that attribute (another transport) frames go out as usual.
    Only for code that does not switch green threads while writing (a publisher's batch, a
    batch of acks): another thread's frame written meanwhile would wait for the end.
    """
    send = getattr(transport, "_write", None)
    if transport is None or send is None:
        yield
        return
    pending = bytearray()

    def collect(frame: Any) -> None:
        pending.extend(frame)  # a copy: py-amqp reuses its frame buffer
        if len(pending) >= flush_at:
            send(bytes(pending))
            pending.clear()

    shadowed = "_write" in vars(transport)
    transport._write = collect
    try:
        yield
    finally:
        if shadowed:
            transport._write = send
        else:
            del transport._write
    if pending:
        transport.write(bytes(pending))


_FRAME_HEADER = struct.Struct(">BHI")
_FRAME_END = 206
_RETRY_ERRNOS = (errno.EAGAIN, errno.EINTR)
_UNAVAILABLE = {errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK}


class FrameReader:
    """``read_frame`` for a py-amqp TCP transport that receives up to 64 KiB per system call.

    py-amqp reads every frame with three ``recv`` calls (header, payload, end octet): nine for
    a message. This reads what the socket has and cuts frames out of it, so a consumer with
    prefetched messages makes one call for many. Nothing is taken from the buffer until a
    whole frame is there, so a timeout loses nothing. Only for connections read solely through
    ``drain_events`` (no one polls the socket for readability while frames wait here): the
    reliable handlers' consumer connection.
    """

    def __init__(self, transport: Any, chunk: int = 65536) -> None:
        self.transport = transport
        self.chunk = chunk
        self.buffer = bytearray(transport._read_buffer)
        transport._read_buffer = b""
        self.position = 0

    @classmethod
    def install(cls, transport: Any) -> bool:
        """Read ``transport``'s frames with a FrameReader; False if it is not py-amqp's TCP."""
        if not isinstance(transport, amqp.transport.TCPTransport):
            return False
        if not isinstance(getattr(transport, "read_frame", None), FrameReader):
            transport.read_frame = cls(transport)
        return True

    def __call__(self, unpack: Any = None) -> tuple[int, int, bytes]:
        buffer = self.buffer
        while True:
            start = self.position
            if len(buffer) - start >= 7:
                frame_type, channel, size = _FRAME_HEADER.unpack_from(buffer, start)
                end = start + 7 + size
                if len(buffer) > end:
                    payload = bytes(buffer[start + 7 : end])
                    frame_end = buffer[end]
                    self.position = end + 1
                    if frame_end != _FRAME_END:
                        raise amqp.exceptions.UnexpectedFrame(
                            f"Received frame_end {frame_end:#04x} while expecting 0xce"
                        )
                    return frame_type, channel, payload
            if start:
                del buffer[:start]
                self.position = 0
            self._receive(initial=not buffer)

    def _receive(self, initial: bool) -> None:
        transport = self.transport
        while True:
            try:
                data = transport.sock.recv(self.chunk)
            except TimeoutError:
                raise
            except OSError as exc:
                if exc.errno in _RETRY_ERRNOS:
                    if initial and transport.raise_on_initial_eintr:
                        raise TimeoutError() from exc
                    continue
                if exc.errno not in _UNAVAILABLE:
                    transport.connected = False
                raise
            if not data:
                transport.connected = False
                raise OSError("Server unexpectedly closed connection")
            self.buffer += data
            return


_PUBLISH_METHOD = struct.pack(">HHH", 60, 40, 0)  # basic.publish, reserved short
_CONTENT_HEADER = struct.Struct(">HHQ")  # class basic, weight, body size
_FRAME_START = struct.Struct(">BHI")
_FLAG_CONTENT_TYPE, _FLAG_CONTENT_ENCODING, _FLAG_HEADERS = 0x8000, 0x4000, 0x2000
_FLAG_DELIVERY_MODE, _FLAG_CORRELATION_ID, _FLAG_MESSAGE_ID = 0x1000, 0x0400, 0x0080


def _shortstr(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    if len(data) > 255:
        raise ValueError("short string longer than 255 bytes")
    return bytes((len(data),)) + data


def _frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    return _FRAME_START.pack(frame_type, channel, len(payload)) + payload + b"\xce"


def amqp_message(item: Outgoing) -> amqp.Message:
    """``item`` as py-amqp's message: persistent, with its properties and headers."""
    return amqp.Message(
        item.body,
        content_type=item.content_type,
        content_encoding=item.content_encoding,
        application_headers=item.headers,
        delivery_mode=2,
        message_id=item.message_id,
        correlation_id=item.correlation_id,
    )


def publish_frames(channel: int, frame_max: int, item: Outgoing) -> bytes | None:
    """The bytes py-amqp writes for ``basic_publish(mandatory=True)`` of ``item``, persistent,
    built directly (py-amqp's generic serialiser costs a third of a relay's CPU); None where
    a header value is not text (retries' counts and the like): py-amqp encodes those.
    """
    table = bytearray()
    for key, value in item.headers.items():
        if type(value) is not str:
            return None
        data = value.encode("utf-8", "surrogatepass")
        table += _shortstr(key) + b"S" + len(data).to_bytes(4, "big") + data
    flags = _FLAG_HEADERS | _FLAG_DELIVERY_MODE
    props = bytearray()
    if item.content_type is not None:
        flags |= _FLAG_CONTENT_TYPE
        props += _shortstr(item.content_type)
    if item.content_encoding is not None:
        flags |= _FLAG_CONTENT_ENCODING
        props += _shortstr(item.content_encoding)
    props += len(table).to_bytes(4, "big") + table + b"\x02"  # delivery mode 2: persistent
    if item.correlation_id is not None:
        flags |= _FLAG_CORRELATION_ID
        props += _shortstr(item.correlation_id)
    if item.message_id is not None:
        flags |= _FLAG_MESSAGE_ID
        props += _shortstr(item.message_id)
    method = _PUBLISH_METHOD + _shortstr(item.exchange) + _shortstr(item.routing_key) + b"\x01"
    body = item.body
    parts = [
        _frame(1, channel, method),
        _frame(
            2, channel, _CONTENT_HEADER.pack(60, 0, len(body)) + flags.to_bytes(2, "big") + props
        ),
    ]
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        parts.append(_frame(3, channel, body[start : start + chunk]))
    return b"".join(parts)


class ConfirmingPublisher:
    """Publishes batches with ``mandatory`` and waits for the broker's confirms of the batch.

    Confirms are pipelined: the whole batch is sent, then acks are read, so a batch of 500 costs
    about one round trip. Safe to share between green threads: ``publish``, ``declare`` and
    ``close`` hold ``lock`` (green under ``eventlet.monkey_patch``), so one batch is written
    and confirmed at a time on the one connection.
    """

    def __init__(self, amqp_uri: str, confirm_timeout: float = 30.0) -> None:
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self.lock = threading.RLock()
        self._conn: Connection | None = None
        self._channel: Any = None
        self._next_tag = 1
        self._acked = 0
        self._nacked: set[int] = set()
        self._returned: list[str] = []
        self._declared: set[str] = set()

    # connection handling -------------------------------------------------------------------
    def _ensure(self) -> Any:
        if self._channel is not None:
            return self._channel
        conn = Connection(self.amqp_uri, heartbeat=0, connect_timeout=10)
        conn.ensure_connection(max_retries=3)
        channel = conn.channel()
        # read only by drain_events (confirms, returns, declarations): many frames per recv
        FrameReader.install(getattr(conn.connection, "transport", None))
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._conn, self._channel = conn, channel
        self._next_tag, self._acked, self._nacked = 1, 0, set()
        declare_base(conn)
        return channel

    def close(self) -> None:
        with self.lock:
            self._close()

    def _close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._declared.clear()
        if conn is not None:
            try:
                conn.release()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("error closing publisher connection", exc_info=True)

    def declare(self, *entities: Exchange | Queue) -> None:
        """Declare extra entities once per connection (retry queues, consumer queues)."""
        with self.lock:
            channel = self._ensure()
            for entity in entities:
                key = f"{type(entity).__name__}:{entity.name}"
                if key in self._declared:
                    continue
                entity.bind(channel).declare()
                self._declared.add(key)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        # RabbitMQ confirms in publish order, so the highest tag seen covers all before it
        self._acked = max(self._acked, tag)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._nacked.add(tag)
        self._acked = max(self._acked, tag)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(str(message.properties.get("message_id", "")))
        log.error("broker returned unroutable message to %s/%s: %s", exchange, routing_key, exc)

    def _coalesced_writes(self) -> contextlib.AbstractContextManager[None]:
        return coalesced_writes(getattr(getattr(self._conn, "connection", None), "transport", None))

    # publishing ----------------------------------------------------------------------------
    def publish(self, messages: Iterable[Outgoing]) -> list[str]:
        """Publish and wait for confirms; return the ids the broker returned as unroutable."""
        batch = list(messages)
        if not batch:
            return []
        # one batch at a time: the confirms of two interleaved batches would be read by two
        # green threads from one socket (eventlet refuses the second read: RuntimeError)
        with self.lock:
            try:
                return self._publish(batch)
            except (TimeoutError, OSError, amqp.exceptions.AMQPError, PublishError) as exc:
                self._close()
                raise PublishError(
                    f"publish of {len(batch)} message(s) not confirmed: {exc}"
                ) from exc

    def _publish(self, batch: list[Outgoing]) -> list[str]:
        channel = self._ensure()
        self._returned = []
        first = self._next_tag
        connection = channel.connection
        with self._coalesced_writes():
            for item in batch:
                frames = publish_frames(channel.channel_id, connection.frame_max, item)
                if frames is not None:
                    connection.transport.write(frames)
                    connection.bytes_sent += 1
                    self._next_tag += 1
                    continue
                channel.basic_publish(
                    amqp_message(item),
                    exchange=item.exchange,
                    routing_key=item.routing_key,
                    mandatory=True,
                )
                self._next_tag += 1
        last = self._next_tag - 1
        deadline = time.monotonic() + self.confirm_timeout
        assert self._conn is not None
        while self._acked < last:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError("timed out waiting for publisher confirms")
            self._conn.drain_events(timeout=remaining)
        nacked = {t for t in self._nacked if first <= t <= last}
        self._nacked -= nacked
        if nacked:
            raise PublishError(f"broker refused {len(nacked)} message(s)")
        return list(self._returned)
