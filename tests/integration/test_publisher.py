"""The confirming publisher sends a batch in a few socket writes, every message intact, in order."""

from __future__ import annotations

import pytest
from kombu import Queue

from shared.bus import ConfirmingPublisher, Outgoing

pytestmark = pytest.mark.integration


def test_a_large_batch_arrives_whole_and_in_order_with_few_writes(
    settings, unique, amqp, delete_queues
):
    Queue(unique, durable=True).bind(amqp.default_channel).declare()
    delete_queues.append(unique)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    writes = []
    try:
        publisher.declare()  # connect
        transport = publisher._conn.connection.transport
        sendall = transport.sock.sendall

        def counting(data, *args):
            writes.append(len(data))
            return sendall(data, *args)

        transport._write = counting
        bodies = [f'{{"n": {i}, "tên": "Chùa Một Cột {i}"}}'.encode() for i in range(3000)]
        assert publisher.publish(Outgoing("", unique, body) for body in bodies) == []
        # the same publisher keeps working for the next batch
        assert publisher.publish([Outgoing("", unique, b'{"n": "last"}')]) == []
    finally:
        publisher.close()
    assert 0 < len(writes) < 100  # not one write per frame (3,000 × 3 frames)

    received = []
    channel = amqp.channel()
    while (message := channel.basic_get(unique, no_ack=True)) is not None:
        body = message.body
        received.append(body.encode() if isinstance(body, str) else body)
    assert received == [*bodies, b'{"n": "last"}']
