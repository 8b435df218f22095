"""The reliable event bus across real PostgreSQL and RabbitMQ: outbox, relay, handlers, DLQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict

import pytest
from marshmallow import Schema, fields
from sqlalchemy import text

from shared.bus import ConfirmingPublisher, Outgoing
from shared.consumer import HANDLED, handler_queues, reliable_handler
from shared.db import Database, unit_of_work
from shared.dlq import list_parked, replay
from shared.events import contract, make_event
from shared.logs import current_correlation_id
from shared.outbox import OutboxRelay, relay_once, to_outgoing
from shared.service import DisanService
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

CONSUMER_SQL = """
CREATE TABLE counter (n integer NOT NULL);
INSERT INTO counter VALUES (0);
CREATE TABLE faults (broken boolean NOT NULL, thing text);
"""

ATTEMPTS: dict[str, list[float]] = defaultdict(list)
CORRELATION: dict[str, list[str | None]] = defaultdict(list)


class ThingHappened(Schema):
    thing_id = fields.String(required=True)


def make_consumer(name: str, event_type: str, batch: int = 1) -> type:
    class Consumer(DisanService):
        db = Database(name)

        @reliable_handler(event_type, batch=batch)
        def handle_thing_happened(self, event):
            ATTEMPTS[name].append(time.monotonic())
            CORRELATION[name].append(current_correlation_id())
            broken = self.db.execute(
                "SELECT 1 FROM faults WHERE broken AND (thing IS NULL OR thing = :t)",
                {"t": event.data["thing_id"]},
            ).first()
            if broken:
                raise RuntimeError("downstream archive is unreachable")
            self.db.execute("UPDATE counter SET n = n + 1")

    Consumer.name = name
    return Consumer


BULK_SIZES: dict[str, list[int]] = defaultdict(list)


def make_bulk_consumer(name: str, event_type: str) -> type:
    """A bulk handler: the batch's new events at once, applied in one statement."""

    class Consumer(DisanService):
        db = Database(name)

        @reliable_handler(event_type, batch=20, bulk=True)
        def handle_thing_happened(self, events):
            BULK_SIZES[name].append(len(events))
            broken = self.db.execute(
                "SELECT 1 FROM faults WHERE broken AND (thing IS NULL OR thing = ANY(:t))",
                {"t": [e.data["thing_id"] for e in events]},
            ).first()
            if broken:
                raise RuntimeError("downstream archive is unreachable")
            self.db.execute("UPDATE counter SET n = n + :k", {"k": len(events)})

    Consumer.name = name
    return Consumer


def make_producer(name: str) -> type:
    class Producer(DisanService):
        relay = OutboxRelay(name)

    Producer.name = name
    return Producer


@pytest.fixture
def bus(unique, settings, schema_factory, amqp, delete_queues):
    """A fresh event type, a producer schema with an outbox, a consumer schema and queue."""
    event_type = f"{unique}.thing_happened"
    contract(event_type)(ThingHappened)
    producer_engine = schema_factory(f"{unique}_p")
    consumer_name = f"{unique}_c"
    consumer_engine = schema_factory(consumer_name, CONSUMER_SQL)
    consumer_cls = make_consumer(consumer_name, event_type)
    for queue in handler_queues(consumer_name, consumer_cls):
        queue.bind(amqp.default_channel).declare()
        delete_queues.append(queue.name)

    class Bus:
        type = event_type
        producer = producer_engine
        consumer = consumer_engine
        consumer_service = consumer_cls
        queue = f"disan.{consumer_name}.handle_thing_happened"

        @staticmethod
        def commit_event(thing_id: str = "x"):
            event = make_event(event_type, {"thing_id": thing_id}, producer=f"{unique}_p")
            with unit_of_work(producer_engine) as session:
                session.publish(event)
            return event

        @staticmethod
        def count() -> int:
            with consumer_engine.connect() as conn:
                return int(conn.execute(text("SELECT n FROM counter")).scalar_one())

        @staticmethod
        def break_downstream(broken: bool, thing: str | None = None) -> None:
            with consumer_engine.begin() as conn:
                conn.execute(text("DELETE FROM faults"))
                if broken:
                    conn.execute(text("INSERT INTO faults VALUES (true, :t)"), {"t": thing})

        @staticmethod
        def batch_consumer():
            return make_consumer(consumer_name, event_type, batch=20)

        @staticmethod
        def bulk_consumer():
            return make_bulk_consumer(consumer_name, event_type)

    return Bus


def unsent(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar())


def test_event_committed_while_consumer_is_stopped_is_handled_when_it_starts(
    bus, unique, container_factory
):
    container_factory(make_producer(f"{unique}_p"))
    event = bus.commit_event()
    wait_until(lambda: unsent(bus.producer) == 0)
    time.sleep(0.3)
    assert bus.count() == 0  # nobody consumed yet: the event waits in the durable queue

    container_factory(bus.consumer_service)
    wait_until(lambda: bus.count() == 1)
    # the handler ran under the correlation id the event was created with (JSON logs carry it)
    assert CORRELATION[bus.consumer_service.name] == [event.correlation_id]


def test_failing_handler_backs_off_dead_letters_then_replays_once(
    bus, settings, test_env, container_factory
):
    bus.break_downstream(True)
    container_factory(bus.consumer_service)
    event = bus.commit_event("manuscript-7")
    publisher = ConfirmingPublisher(settings.amqp_uri)
    relay_once(bus.producer, publisher)
    publisher.close()

    def dead_letter():
        return [m for m in list_parked(settings.amqp_uri) if m.event_id == event.event_id]

    parked = wait_until(dead_letter, timeout=15)[0]
    attempts = ATTEMPTS[bus.consumer_service.name]
    assert len(attempts) == settings.events.max_attempts == 3
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    # base 0.2 s then 0.4 s: each wait at least its delay, and growing
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38 and gaps[1] > gaps[0]
    assert parked.attempts == 3
    assert parked.queue == bus.queue
    assert "downstream archive is unreachable" in parked.error
    assert bus.count() == 0

    bus.break_downstream(False)
    env = dict(os.environ, **test_env)
    out = subprocess.run(
        [sys.executable, "-m", "disan.cli.main", "dlq", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = [m for m in json.loads(out.stdout) if m["event_id"] == event.event_id]
    assert listed and listed[0]["attempts"] == 3 and "unreachable" in listed[0]["error"]
    subprocess.run(
        [sys.executable, "-m", "disan.cli.main", "dlq", "replay", "--id", event.event_id],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wait_until(lambda: bus.count() == 1)
    time.sleep(0.3)
    assert bus.count() == 1
    assert not dead_letter()


def test_same_event_delivered_twice_changes_state_once(bus, settings, container_factory):
    container_factory(bus.consumer_service)
    event = bus.commit_event()
    duplicates = HANDLED.labels(bus.queue, "duplicate")
    before = duplicates._value.get()
    publisher = ConfirmingPublisher(settings.amqp_uri)
    message = to_outgoing(event.to_dict())
    publisher.publish([message, message])
    publisher.close()
    wait_until(lambda: duplicates._value.get() == before + 1)
    assert bus.count() == 1


def test_relay_killed_between_publish_and_mark_causes_no_double_effect(
    bus, settings, container_factory
):
    container_factory(bus.consumer_service)
    bus.commit_event()
    publisher = ConfirmingPublisher(settings.amqp_uri)

    class RelayKilled(Exception):
        pass

    def die(ids):
        raise RelayKilled(f"killed after publishing {ids}")

    with pytest.raises(RelayKilled):
        relay_once(bus.producer, publisher, after_publish=die)
    assert unsent(bus.producer) == 1  # published, but never marked sent
    wait_until(lambda: bus.count() == 1)

    duplicates = HANDLED.labels(bus.queue, "duplicate")
    before = duplicates._value.get()
    assert relay_once(bus.producer, publisher) == 1  # the restarted relay sends it again
    publisher.close()
    assert unsent(bus.producer) == 0
    wait_until(lambda: duplicates._value.get() == before + 1)
    assert bus.count() == 1


def test_event_nobody_listens_to_is_kept_as_unrouted_and_replayable(
    unique, settings, schema_factory, amqp, delete_queues, container_factory, no_catch_all
):
    event_type = f"{unique}.orphan_happened"
    contract(event_type)(ThingHappened)
    producer = schema_factory(f"{unique}_p")
    event = make_event(event_type, {"thing_id": "lonely"}, producer=f"{unique}_p")
    with unit_of_work(producer) as session:
        session.publish(event)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    assert relay_once(producer, publisher) == 1
    publisher.close()

    kept = [m for m in list_parked(settings.amqp_uri, "unrouted") if m.event_id == event.event_id]
    assert len(kept) == 1 and kept[0].event_type == event_type

    # once a consumer exists, the kept event can be delivered to it
    consumer_name = f"{unique}_c"
    consumer_engine = schema_factory(consumer_name, CONSUMER_SQL)
    consumer = make_consumer(consumer_name, event_type)
    for queue in handler_queues(consumer_name, consumer):
        queue.bind(amqp.default_channel).declare()
        delete_queues.append(queue.name)
    assert replay(settings.amqp_uri, "unrouted", {event.event_id}) == [event.event_id]
    container_factory(consumer)

    def count() -> int:
        with consumer_engine.connect() as conn:
            return int(conn.execute(text("SELECT n FROM counter")).scalar_one())

    wait_until(lambda: count() == 1)


def _parked_after_publishing(bus, settings, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    """Publish a raw message of ``bus.type`` (not an envelope made by the kernel) and wait for
    its copy in the dead letters."""
    publisher = ConfirmingPublisher(settings.amqp_uri)
    bad = Outgoing("disan.events", bus.type, body, message_id=bus.queue, content_type=content_type)
    publisher.publish([bad])
    publisher.close()
    return wait_until(
        lambda: [m for m in list_parked(settings.amqp_uri) if m.message_id == bus.queue]
    )[0]


def test_message_that_is_not_an_event_is_dead_lettered_at_once(bus, settings, container_factory):
    container_factory(bus.consumer_service)
    parked = _parked_after_publishing(bus, settings, b'{"type": "no envelope"}')
    assert parked.attempts == 1
    assert "invalid envelope" in parked.error
    assert bus.count() == 0


@pytest.mark.parametrize("kind", ["batch", "bulk"])
def test_batch_handler_commits_many_events_once_each(bus, settings, container_factory, kind):
    container_factory(bus.batch_consumer() if kind == "batch" else bus.bulk_consumer())
    events = [bus.commit_event(f"page-{i}") for i in range(60)]
    duplicates = HANDLED.labels(bus.queue, "duplicate")
    before = duplicates._value.get()
    publisher = ConfirmingPublisher(settings.amqp_uri)
    relay_once(bus.producer, publisher)
    publisher.publish([to_outgoing(e.to_dict()) for e in events[:10]])
    publisher.close()
    wait_until(lambda: bus.count() == 60 and duplicates._value.get() == before + 10)
    time.sleep(0.3)
    assert bus.count() == 60
    if kind == "bulk":
        sizes = BULK_SIZES[bus.consumer_service.name]
        assert sum(sizes) == 60  # duplicates never reach the handler
        assert max(sizes) > 1  # several events per call


@pytest.mark.parametrize("kind", ["batch", "bulk"])
def test_one_failing_event_in_a_batch_does_not_hold_back_the_others(
    bus, settings, container_factory, kind
):
    bus.break_downstream(True, thing="page-13")
    container_factory(bus.batch_consumer() if kind == "batch" else bus.bulk_consumer())
    events = [bus.commit_event(f"page-{i}") for i in range(30)]
    publisher = ConfirmingPublisher(settings.amqp_uri)
    relay_once(bus.producer, publisher)
    publisher.close()
    failing = events[13].event_id
    parked = wait_until(
        lambda: [m for m in list_parked(settings.amqp_uri) if m.event_id == failing], timeout=15
    )
    assert parked[0].attempts == settings.events.max_attempts
    wait_until(lambda: bus.count() == 29)
    time.sleep(0.3)
    assert bus.count() == 29
    if kind == "bulk":
        assert 1 in BULK_SIZES[bus.consumer_service.name]  # one by one after the batch failed


def test_a_bulk_handler_needs_batches():
    with pytest.raises(ValueError, match="batch"):
        reliable_handler("x.y_happened", bulk=True)


def test_a_handled_batch_is_acknowledged_and_a_killed_one_comes_back_whole(
    bus, settings, container_factory, amqp
):
    """Acks of a batch (one multiple frame where possible) leave nothing behind; a consumer
    killed before its batch committed leaves every message of it to be redelivered."""

    def waiting() -> int:
        return int(amqp.default_channel.queue_declare(bus.queue, passive=True).message_count)

    container = container_factory(bus.batch_consumer())
    for i in range(45):
        bus.commit_event(f"page-{i}")
    publisher = ConfirmingPublisher(settings.amqp_uri)
    relay_once(bus.producer, publisher)
    wait_until(lambda: bus.count() == 45)
    container.stop()  # an unacknowledged message would now be back in the queue
    assert waiting() == 0

    # the next batch cannot commit: the counter row is locked, the consumer killed meanwhile
    with bus.consumer.connect() as lock:
        lock.execute(text("SELECT n FROM counter FOR UPDATE"))
        container = container_factory(bus.batch_consumer())
        for i in range(25):
            bus.commit_event(f"late-{i}")
        relay_once(bus.producer, publisher)
        publisher.close()
        wait_until(lambda: len(ATTEMPTS[bus.consumer_service.name]) > 45)  # blocked in it
        container.kill()
        lock.rollback()
    wait_until(lambda: waiting() == 25)
    assert bus.count() == 45
    container_factory(bus.batch_consumer())
    wait_until(lambda: bus.count() == 70, timeout=20)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"\x80\x04K\x01.", "application/x-python-serialize")],
    ids=["broken-json", "pickle"],
)
def test_a_body_that_cannot_be_decoded_is_dead_lettered_not_dropped(
    bus, settings, container_factory, body, content_type
):
    container_factory(bus.consumer_service)
    parked = _parked_after_publishing(bus, settings, body, content_type)
    assert parked.attempts == 1
    assert "not a JSON object" in parked.error
    assert bus.count() == 0
