"""The reliable entrypoint never lets the parking path or a broken connection kill its
container: whatever parking raises, the original is requeued; acks and requeues over a
connection that broke are logged, not raised (issue 14)."""

from __future__ import annotations

from typing import Any

import amqp
import pytest

from shared import consumer as consumer_module
from shared.consumer import PoisonMessage, ReliableEventHandler, ReliableQueueConsumer


class BrokenChannel:
    """A channel whose connection broke under it, as py-amqp reports it."""

    def __init__(self, error: BaseException) -> None:
        self.connection = object()  # kombu still holds it
        self.error = error

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        raise self.error


class Message:
    def __init__(self, channel: Any, tag: int) -> None:
        self.channel = channel
        self.delivery_tag = tag
        self.headers: dict[str, Any] = {}
        self.requeued = False

    def ack(self) -> None:
        self.channel.basic_ack(self.delivery_tag)

    def requeue(self) -> None:
        raise self.channel.error


BROKEN = [
    amqp.exceptions.RecoverableConnectionError("connection already closed"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError("Server unexpectedly closed connection"),
]


@pytest.mark.parametrize("error", BROKEN, ids=lambda e: type(e).__name__)
def test_acks_over_a_broken_connection_do_not_raise(error: BaseException) -> None:
    queue_consumer = ReliableQueueConsumer()
    channel = BrokenChannel(error)
    messages = [Message(channel, tag) for tag in (1, 2)]
    queue_consumer.ack_messages(messages)  # the broker redelivers them; nothing raised


class RecordingQueueConsumer:
    def __init__(self, error: BaseException | None = None) -> None:
        self.requeued: list[Any] = []
        self.error = error

    def requeue_message(self, message: Any) -> None:
        self.requeued.append(message)
        if self.error is not None:
            raise self.error


def handler(park_error: BaseException, queue_consumer: Any) -> ReliableEventHandler:
    entrypoint = ReliableEventHandler(["x.y"])
    entrypoint.queue = type("Q", (), {"name": "disan.test.handle"})()
    entrypoint.queue_consumer = queue_consumer

    def park(message: Any, exc: BaseException) -> None:
        raise park_error

    entrypoint._park_failure = park  # type: ignore[method-assign]
    return entrypoint


@pytest.mark.parametrize(
    "park_error",
    [RuntimeError("Second simultaneous read on fileno 20"), *BROKEN, ValueError("odd")],
    ids=lambda e: type(e).__name__,
)
def test_whatever_parking_raises_the_original_is_requeued(
    park_error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "PARK_FAILED_PAUSE", 0)
    queue_consumer = RecordingQueueConsumer()
    entrypoint = handler(park_error, queue_consumer)
    message = Message(None, 1)
    assert entrypoint._can_ack(message, PoisonMessage("unknown event type")) is False
    assert queue_consumer.requeued == [message]


def test_a_requeue_over_a_broken_connection_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "PARK_FAILED_PAUSE", 0)
    lost = amqp.exceptions.RecoverableConnectionError("connection already closed")
    queue_consumer = RecordingQueueConsumer(error=lost)
    entrypoint = handler(lost, queue_consumer)
    assert entrypoint._can_ack(Message(None, 1), PoisonMessage("not JSON")) is False


@pytest.mark.parametrize("error", BROKEN, ids=lambda e: type(e).__name__)
def test_the_queue_consumer_requeues_over_a_broken_connection_without_raising(
    error: BaseException,
) -> None:
    queue_consumer = ReliableQueueConsumer()
    queue_consumer.requeue_message(Message(BrokenChannel(error), 1))


@pytest.mark.parametrize("value", ["abc", None, [1], 1e400, -3])
def test_a_foreign_attempt_header_does_not_stop_parking(value: Any) -> None:
    from shared.consumer import _attempt

    message = Message(None, 1)
    message.headers = {"x-disan-attempt": value}
    assert _attempt(message) == 1
