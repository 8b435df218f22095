"""Events no handler understands (unknown types, malformed data, bodies that are no JSON) on the
real bus while records are created: every service keeps running and keeps doing its work, each
such event is parked once per queue it reached, and every real effect happens exactly once
(issue 14: a parking path that shared one socket between green threads crash-looped the
services)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import eventlet
import pytest
from kombu import Connection, Queue

from shared.bus import DEAD_LETTERS, H_QUEUE, ConfirmingPublisher, Outgoing, events_exchange
from shared.events import new_id
from shared.outbox import to_outgoing
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def _sink(amqp_uri: str, name: str, routing_key: str) -> Queue:
    queue = Queue(name, exchange=events_exchange, routing_key=routing_key, durable=False)
    with Connection(amqp_uri) as conn:
        queue.bind(conn.default_channel).declare()
    return queue


def _drain(amqp_uri: str, name: str) -> list[Any]:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        found = []
        while (message := channel.basic_get(name, no_ack=True)) is not None:
            found.append(message)
        channel.queue_delete(name)
        return found


def test_one_publisher_is_safe_to_share_between_green_threads(settings, unique):
    """Many green threads publish through one publisher at once (as a container's handlers
    park failed messages): every batch is confirmed, none breaks the shared connection."""
    sink = f"disan.{unique}.sink"
    _sink(settings.amqp_uri, sink, f"{unique}.#")
    publisher = ConfirmingPublisher(settings.amqp_uri)
    errors: list[BaseException] = []

    def publish_some(worker: int) -> None:
        for n in range(10):
            body = b'{"worker": %d, "n": %d}' % (worker, n)
            try:
                publisher.publish([Outgoing("disan.events", f"{unique}.x", body)])
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    try:
        pool = eventlet.GreenPool(20)
        for worker in range(20):
            pool.spawn(publish_some, worker)
        pool.waitall()
    finally:
        publisher.close()
    found = _drain(settings.amqp_uri, sink)
    assert errors == []
    assert len(found) == 200


# the platform under junk -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform(settings):
    # imported here: the first test needs no platform (nor the gateway's modules)
    from tests.integration.catalogue.conftest import CataloguePlatform
    from tests.integration.notifications.conftest import start_notifications
    from tests.integration.running import Services

    services = Services(settings, cache_seconds=0.5)
    services.start(["access", "catalogue", "iiif"])
    platform = CataloguePlatform(services)
    journal, stop_journal = start_notifications(settings)
    platform.journal = journal
    yield platform
    stop_journal()
    services.stop()
    platform.close()


def _dead_letters(amqp_uri: str, queues: set[str]) -> list[Any]:
    """The dead letters of ``queues`` (taken off the queue: this module's own)."""
    mine = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        others = []
        while (message := channel.basic_get(DEAD_LETTERS, no_ack=False)) is not None:
            if str((message.headers or {}).get(H_QUEUE)) in queues:
                channel.basic_ack(message.delivery_tag)
                mine.append(message)
            else:
                others.append(message)
        channel.close()  # the others go back
    return mine


def _junk(unique: str, n: int) -> list[Outgoing]:
    """Events of types no contract knows, policy events with malformed data, bodies that are
    no JSON, JSON that is no envelope and a message with a foreign attempt header."""
    out: list[Outgoing] = []
    for i in range(n):
        envelope = {
            "event_id": new_id(),
            "type": f"{unique}.mystery_{i % 3}",
            "version": 1,
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "producer": "another-program",
            "correlation_id": new_id(),
            "data": {"i": i},
        }
        out.append(to_outgoing(envelope))
        bad_policy = envelope | {
            "event_id": new_id(),
            "type": "access.policy_changed",
            "data": {"asset_id": "not a uuid", "rights": 42},
        }
        out.append(to_outgoing(bad_policy))
        out.append(Outgoing("disan.events", "access.policy_changed", b"\xff not json %d" % i))
        out.append(Outgoing("disan.events", f"{unique}.mystery_x", b'["no", "envelope"]'))
        # a header of ours set by another program, not a number
        foreign = Outgoing("disan.events", f"{unique}.mystery_h", b"{}", {"x-disan-attempt": "n"})
        out.append(foreign)
    return out


def test_junk_on_the_bus_is_parked_once_while_records_are_created(platform, settings, unique):
    """Junk published in bursts while records are created: the containers keep running (none
    killed, the same ones), every record is created and journaled exactly once, and each junk
    message is dead-lettered exactly once by each handler queue it reached."""
    from tests.integration.catalogue.conftest import record_body

    before = {name: id(c) for name, c in platform.services.containers.items()}
    before["notifications"] = id(platform.journal.container)
    junk = _junk(unique, 60)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    created: list[str] = []

    def flood() -> None:
        for start in range(0, len(junk), 40):
            publisher.publish(junk[start : start + 40])
            eventlet.sleep(0)

    try:
        flooding = eventlet.spawn(flood)
        for _ in range(8):
            created.append(platform.create(record_body())["id"])
        flooding.wait()
    finally:
        publisher.close()
    # the real work flows on: records created after the junk are journaled too
    created.append(platform.create(record_body())["id"])

    def journaled() -> list[Any]:
        return platform.journal.sql(
            "SELECT record_id FROM journal WHERE type = 'catalogue.record_created' "
            "AND record_id::text = ANY(:ids)",
            ids=created,
        )

    wait_until(lambda: len(journaled()) >= len(created), timeout=60)
    queues = {
        f"disan.{platform.journal.name}.handle_event",
        *(
            q.name
            for service in ("access", "catalogue", "iiif")
            for q in _handler_queues(platform.services, service)
        ),
    }
    # every junk message reached the journal's "#" queue; the policy ones also the policy
    # handlers of access, catalogue and iiif
    expected = len(junk) + 2 * 60 * _policy_queues(platform.services)
    parked: list[Any] = []
    wait_until(
        lambda: parked.extend(_dead_letters(settings.amqp_uri, queues)) or len(parked) >= expected,
        timeout=60,
    )
    eventlet.sleep(1.0)  # nothing parked twice turns up late
    parked.extend(_dead_letters(settings.amqp_uri, queues))
    copies = Counter((str(m.headers[H_QUEUE]), str(m.properties.get("message_id"))) for m in parked)
    assert len(parked) == expected
    assert max(copies.values()) == 1, copies.most_common(3)
    assert sorted(str(r[0]) for r in journaled()) == sorted(created)  # each once
    records = platform.catalogue_sql(
        "SELECT id FROM records WHERE id::text = ANY(:ids)", ids=created
    )
    assert len(records) == len(created)
    after = {name: id(c) for name, c in platform.services.containers.items()}
    after["notifications"] = id(platform.journal.container)
    assert after == before
    for container in [*platform.services.containers.values(), platform.journal.container]:
        assert container.started and not container._died.ready(), container.service_name


def _handler_queues(services: Any, service: str) -> list[Queue]:
    from shared.consumer import handler_queues

    return handler_queues(services.names[service], services.classes[service])


def _policy_queues(services: Any) -> int:
    """How many handler queues of access, catalogue and iiif take ``access.policy_changed``."""
    from shared.consumer import ReliableEventHandler

    count = 0
    for service in ("access", "catalogue", "iiif"):
        cls = services.classes[service]
        for attr in dir(cls):
            for ep in getattr(getattr(cls, attr, None), "nameko_entrypoints", ()):
                if isinstance(ep, ReliableEventHandler) and any(
                    t in ("access.policy_changed", "access.*", "#") for t in ep.event_types
                ):
                    count += 1
    return count
