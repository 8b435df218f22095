"""The reliable consumer's ack ledger: one multiple ack for the oldest settled deliveries."""

from __future__ import annotations

from typing import Any

from shared.consumer import ReliableQueueConsumer


class FakeChannel:
    def __init__(self) -> None:
        self.connection = object()  # alive
        self.frames: list[tuple[str, int, bool]] = []

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.frames.append(("ack", tag, multiple))


class FakeMessage:
    def __init__(self, channel: FakeChannel, tag: int) -> None:
        self.channel = channel
        self.delivery_tag = tag
        self._state = "RECEIVED"

    def ack(self) -> None:
        assert self._state == "RECEIVED", "acked twice"
        self._state = "ACK"
        self.channel.basic_ack(self.delivery_tag)

    def requeue(self) -> None:
        self._state = "REQUEUED"
        self.channel.frames.append(("requeue", self.delivery_tag, False))


class BatchProvider:
    batch = 100

    def __init__(self) -> None:
        self.received: list[Any] = []

    def handle_message(self, body: Any, message: Any) -> None:
        self.received.append(message)


def deliver(consumer: ReliableQueueConsumer, channel: FakeChannel, *tags: int) -> list[Any]:
    provider = BatchProvider()
    messages = [FakeMessage(channel, t) for t in tags]
    for m in messages:
        consumer.handle_message(provider, {}, m)
    assert provider.received == messages  # handed over in the consumer's own thread
    return messages


def test_the_oldest_deliveries_are_acked_with_one_multiple_frame():
    consumer, channel = ReliableQueueConsumer(), FakeChannel()
    m = deliver(consumer, channel, 1, 2, 3, 4, 5)
    consumer.ack_messages(m[:3])
    assert channel.frames == [("ack", 3, True)]
    assert all(x._state == "ACK" for x in m[:3])


def test_a_batch_behind_an_unsettled_delivery_is_acked_one_by_one():
    consumer, channel = ReliableQueueConsumer(), FakeChannel()
    m = deliver(consumer, channel, 1, 2, 3, 4)
    consumer.ack_messages([m[2], m[3]])  # 1 and 2 still being handled: must stay unacked
    assert channel.frames == [("ack", 3, False), ("ack", 4, False)]
    channel.frames.clear()
    consumer.ack_messages([m[0], m[1]])  # now the oldest: one frame, covering nothing else
    assert channel.frames == [("ack", 2, True)]


def test_a_requeued_delivery_no_longer_holds_back_the_ones_after_it():
    consumer, channel = ReliableQueueConsumer(), FakeChannel()
    m = deliver(consumer, channel, 1, 2, 3)
    consumer.requeue_message(m[0])
    consumer.ack_messages([m[1], m[2]])
    assert channel.frames == [("requeue", 1, False), ("ack", 3, True)]


def test_single_acks_of_unbatched_handlers_use_the_same_ledger():
    consumer, channel = ReliableQueueConsumer(), FakeChannel()
    m = deliver(consumer, channel, 1, 2)
    consumer.ack_message(m[1])
    consumer.ack_message(m[0])
    assert channel.frames == [("ack", 2, False), ("ack", 1, True)]


def test_a_new_channel_starts_a_new_ledger_and_dead_channels_are_not_acked():
    consumer, old = ReliableQueueConsumer(), FakeChannel()
    stale = deliver(consumer, old, 1, 2)
    old.connection = None  # the connection was lost: the broker redelivers these
    new = FakeChannel()
    fresh = deliver(consumer, new, 1)
    consumer.ack_messages(stale)
    assert old.frames == []
    consumer.ack_messages(fresh)
    assert new.frames == [("ack", 1, True)]
