"""Reliable handlers bound by topic patterns (``#``, ``service.*``), as the journal uses them:
the kernel's binding takes RabbitMQ topic patterns unchanged, each handler gets what its
pattern matches, and the claims still make a redelivery a no-op."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields
from nameko.containers import ServiceContainer

from shared.bus import ConfirmingPublisher
from shared.consumer import handler_queues, reliable_handler
from shared.db import Database
from shared.events import contract, make_event
from shared.outbox import to_outgoing
from shared.runner import nameko_config
from shared.service import DisanService
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

SEEN: dict[str, list[str]] = {"all": [], "one_service": []}


class Nothing(Schema):
    n = fields.Integer(required=True)


def test_hash_and_star_patterns_receive_what_they_match(
    unique, settings, schema_factory, amqp, delete_queues
):
    for event in ("alpha", "beta"):
        contract(f"{unique}.{event}")(Nothing)
    other = f"{unique}x.gamma"
    contract(other)(Nothing)
    name = f"{unique}_w"
    schema_factory(name)

    class Wildcards(DisanService):
        db = Database(name)

        @reliable_handler("#")
        def handle_everything(self, event):
            SEEN["all"].append(event.type)

        @reliable_handler(f"{unique}.*")
        def handle_one_service(self, event):
            SEEN["one_service"].append(event.type)

    Wildcards.name = name
    queues = handler_queues(name, Wildcards)
    for queue in queues:
        queue.bind(amqp.default_channel).declare()
        delete_queues.append(queue.name)
    config = nameko_config(settings, name) | {"DISAN_OPS_PORT": 0}
    container = ServiceContainer(Wildcards, config)
    container.start()
    publisher = ConfirmingPublisher(settings.amqp_uri)
    try:
        events = [
            make_event(f"{unique}.alpha", {"n": 1}, producer="t"),
            make_event(f"{unique}.beta", {"n": 2}, producer="t"),
            make_event(other, {"n": 3}, producer="t"),
        ]
        publisher.publish([to_outgoing(e.to_dict()) for e in events])
        publisher.publish([to_outgoing(events[0].to_dict())])  # a redelivery
        mine = {e.type for e in events}
        wait_until(lambda: mine <= set(SEEN["all"]), timeout=15)
        wait_until(lambda: len(SEEN["one_service"]) >= 2, timeout=15)
    finally:
        container.stop()
        publisher.close()
    assert sorted(t for t in SEEN["all"] if t in mine) == sorted(mine)
    assert sorted(SEEN["one_service"]) == [f"{unique}.alpha", f"{unique}.beta"]
