"""The parking queues (unrouted, dead letters) are bounded by a policy, and a full one loses
nothing: the broker refuses, the relay keeps the events in its outbox."""

from __future__ import annotations

import json
import subprocess
import time
from urllib.parse import urlsplit

import pytest
from kombu import Connection
from marshmallow import Schema, fields
from sqlalchemy import text

from disan.cli.infra import ensure_parking_policy
from shared.bus import (
    PARKING_POLICY,
    UNROUTED,
    ConfirmingPublisher,
    Outgoing,
    PublishError,
    declare_base,
)
from shared.db import unit_of_work
from shared.events import contract, make_event
from shared.outbox import relay_once
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


class Lonely(Schema):
    n = fields.Integer(required=True)


def _policy(vhost: str) -> dict[str, object] | None:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_policies", "-p", vhost, "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for policy in json.loads(out or "[]"):
        if policy["name"] == PARKING_POLICY:
            definition = policy["definition"]
            return json.loads(definition) if isinstance(definition, str) else definition
    return None


def _queue_policy(vhost: str, queue: str) -> str | None:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "policy", "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return next((q.get("policy") for q in json.loads(out or "[]") if q["name"] == queue), None)


def _depth(amqp_uri: str) -> int:
    with Connection(amqp_uri) as conn:
        return int(conn.default_channel.queue_declare(UNROUTED, passive=True).message_count)


@pytest.fixture
def tiny_parking(settings, no_catch_all):
    """The test vhost's parking queues bounded to 3 messages; the configured bound after."""
    vhost = urlsplit(settings.amqp_uri).path.lstrip("/")
    with Connection(settings.amqp_uri) as conn:
        declare_base(conn)  # the queues exist already, declared without any bound
        conn.default_channel.queue_purge(UNROUTED)
    assert ensure_parking_policy(vhost, 3)
    yield vhost
    ensure_parking_policy(vhost, settings.events.parking_max_messages)
    with Connection(settings.amqp_uri) as conn:
        conn.default_channel.queue_purge(UNROUTED)


def test_provisioning_bounds_the_parking_queues_by_policy(settings):
    vhost = urlsplit(settings.amqp_uri).path.lstrip("/")
    assert _policy(vhost) == {
        "max-length": settings.events.parking_max_messages,
        "overflow": "reject-publish",
    }
    # the bound is not a queue argument: the existing queues still declare as before
    with Connection(settings.amqp_uri) as conn:
        declare_base(conn)


def test_a_full_unrouted_queue_refuses_and_the_outbox_keeps_the_events(
    settings, unique, schema_factory, tiny_parking
):
    wait_until(lambda: _queue_policy(tiny_parking, UNROUTED) == PARKING_POLICY)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    try:
        unroutable = [Outgoing("disan.events", f"{unique}.probe_sent", b"{}") for _ in range(3)]
        publisher.publish(unroutable)
        with pytest.raises(PublishError, match="refused"):
            publisher.publish([Outgoing("disan.events", f"{unique}.probe_sent", b"{}")])
    finally:
        publisher.close()
    assert _depth(settings.amqp_uri) == 3  # bounded: the fourth was refused, not dropped silently

    event_type = f"{unique}.lonely_recorded"
    contract(event_type)(Lonely)
    producer = schema_factory(f"{unique}_p")
    with unit_of_work(producer) as session:
        session.publish(make_event(event_type, {"n": 1}, producer=f"{unique}_p"))
    publisher = ConfirmingPublisher(settings.amqp_uri)
    try:
        with pytest.raises(PublishError):
            relay_once(producer, publisher)
        with producer.connect() as conn:
            unsent = conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            assert unsent.scalar() == 1  # kept for the next relay round

        # room again (an operator replayed or purged the unrouted queue): the event goes out
        with Connection(settings.amqp_uri) as conn:
            conn.default_channel.queue_purge(UNROUTED)
        assert relay_once(producer, publisher) == 1
    finally:
        publisher.close()
    assert _depth(settings.amqp_uri) == 1


class Noted(Schema):
    thing = fields.String(required=True)


def test_a_full_dead_letter_queue_keeps_the_failed_message_in_its_queue(
    settings, unique, schema_factory, amqp, delete_queues, container_factory, tiny_parking
):
    from shared.bus import DEAD_LETTERS
    from shared.consumer import handler_queues, reliable_handler
    from shared.db import Database
    from shared.dlq import list_parked
    from shared.service import DisanService

    event_type = f"{unique}.thing_noted"
    contract(event_type)(Noted)
    name = f"{unique}_c"
    schema_factory(name)

    class Consumer(DisanService):
        db = Database(name)

        @reliable_handler(event_type)
        def handle_thing_noted(self, event):
            pass

    Consumer.name = name
    (queue,) = handler_queues(name, Consumer)
    queue.bind(amqp.default_channel).declare()
    delete_queues.append(queue.name)
    channel = amqp.default_channel
    channel.queue_purge(DEAD_LETTERS)
    wait_until(lambda: _queue_policy(tiny_parking, DEAD_LETTERS) == PARKING_POLICY)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    try:
        publisher.publish([Outgoing("", DEAD_LETTERS, b"{}") for _ in range(3)])  # now full
        poison = Outgoing("disan.events", event_type, b'{"not": "an event"}', message_id=unique)
        publisher.publish([poison])
    finally:
        publisher.close()

    container_factory(Consumer)
    time.sleep(3)  # the handler tried, could not park it, and gave it back (1 s pauses)
    assert channel.queue_declare(DEAD_LETTERS, passive=True).message_count == 3

    # room in the dead letters again: the poison message lands there, with its reason
    channel.queue_purge(DEAD_LETTERS)
    parked = wait_until(
        lambda: [m for m in list_parked(settings.amqp_uri) if m.message_id == unique]
    )
    assert "invalid envelope" in parked[0].error
