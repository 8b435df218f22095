"""Inspect and replay parked messages: the dead letters and the unrouted events.

Listing takes messages without acknowledging them and closes the channel, which returns them to
their queue in their place. Replaying a dead letter sends it back to the queue it failed in with a
fresh attempt count; replaying an unrouted event publishes it again to ``disan.events``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from shared.bus import (
    DEAD_LETTERS,
    EVENTS_EXCHANGE,
    H_ATTEMPT,
    H_ERROR,
    H_FAILED_AT,
    H_QUEUE,
    REQUEUE_EXCHANGE,
    UNROUTED,
    ConfirmingPublisher,
    Outgoing,
    declare_base,
)

QUEUES = {"dead_letters": DEAD_LETTERS, "unrouted": UNROUTED}


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str
    queue: str
    routing_key: str
    event_type: str | None
    event_id: str | None
    attempts: int
    error: str | None
    failed_at: str | None
    body: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "queue": self.queue,
            "attempts": self.attempts,
            "error": self.error,
            "failed_at": self.failed_at,
        }


def _parked(source: str, message: Any) -> ParkedMessage:
    headers = message.headers or {}
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    return ParkedMessage(
        message_id=str(message.properties.get("message_id") or ""),
        queue=str(headers.get(H_QUEUE) or ""),
        routing_key=str(message.delivery_info.get("routing_key") or ""),
        event_type=envelope.get("type"),
        event_id=envelope.get("event_id"),
        attempts=int(headers.get(H_ATTEMPT, 0) or 0),
        error=headers.get(H_ERROR),
        failed_at=headers.get(H_FAILED_AT),
        body=body,
    )


def list_parked(
    amqp_uri: str, which: str = "dead_letters", limit: int = 1000
) -> list[ParkedMessage]:
    source = QUEUES[which]
    found: list[ParkedMessage] = []
    with Connection(amqp_uri, connect_timeout=10) as conn:
        declare_base(conn)
        channel = conn.channel()
        try:
            while len(found) < limit:
                message = channel.basic_get(source, no_ack=False)
                if message is None:
                    break
                found.append(_parked(source, message))
        finally:
            channel.close()  # unacked messages return to the queue
    return found


def replay(
    amqp_uri: str, which: str = "dead_letters", ids: set[str] | None = None, limit: int = 100_000
) -> list[str]:
    """Replay parked messages (all, or those whose message or event id is in ``ids``)."""
    source = QUEUES[which]
    publisher = ConfirmingPublisher(amqp_uri)
    replayed: list[str] = []
    try:
        with Connection(amqp_uri, connect_timeout=10) as conn:
            declare_base(conn)
            channel = conn.channel()
            try:
                for _ in range(limit):
                    message = channel.basic_get(source, no_ack=False)
                    if message is None:
                        break
                    parked = _parked(source, message)
                    if parked.message_id in replayed:
                        break  # came back round (still unroutable): leave it parked
                    if ids and not ids & {parked.message_id, parked.event_id or ""}:
                        continue
                    if which == "dead_letters" and not parked.queue:
                        continue  # no origin recorded: cannot be routed back
                    headers = {
                        k: v
                        for k, v in (message.headers or {}).items()
                        if not k.startswith("x-disan-") or k == "x-disan-producer"
                    }
                    headers["x-disan-replayed"] = (
                        int((message.headers or {}).get("x-disan-replayed", 0)) + 1
                    )
                    if which == "dead_letters":
                        out = Outgoing(
                            REQUEUE_EXCHANGE, parked.queue, parked.body, headers, parked.message_id
                        )
                    else:
                        out = Outgoing(
                            EVENTS_EXCHANGE,
                            parked.routing_key,
                            parked.body,
                            headers,
                            parked.message_id,
                        )
                    publisher.publish([out])
                    channel.basic_ack(message.delivery_tag)
                    replayed.append(parked.message_id)
            finally:
                channel.close()
    finally:
        publisher.close()
    return replayed
