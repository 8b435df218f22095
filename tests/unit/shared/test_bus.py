import pytest

from shared.bus import consumer_queue, retry_delay_ms, retry_queue
from shared.errors import Conflict, NotFound, error_body, http_status


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (10, 300_000), (50, 300_000)],
)
def test_retry_delay_doubles_from_the_base_up_to_the_cap(attempt, expected):
    assert retry_delay_ms(attempt, 1.0, 300.0) == expected


def test_retry_queue_dead_letters_back_through_the_requeue_exchange():
    exchange, queue = retry_queue(1500)
    assert queue.name == exchange.name == "disan.retry.1500ms"
    assert queue.queue_arguments == {
        "x-message-ttl": 1500,
        "x-dead-letter-exchange": "disan.requeue",
    }


def test_consumer_queue_binds_event_types_and_its_own_requeue_key():
    queue = consumer_queue("media", "handle_record_deleted", ["catalogue.record_deleted"])
    keys = {(b.exchange.name, b.routing_key) for b in queue.bindings}
    assert keys == {
        ("disan.events", "catalogue.record_deleted"),
        ("disan.requeue", "disan.media.handle_record_deleted"),
    }
    assert queue.durable and not queue.auto_delete


@pytest.mark.parametrize(
    ("name", "status"),
    [("NotFound", 404), ("Conflict", 409), ("ValidationFailed", 422), ("KeyError", 500)],
)
def test_one_table_maps_error_types_to_status(name, status):
    assert http_status(name) == status


def test_error_body_has_the_one_error_format():
    assert error_body(NotFound.code, "no such record") == {
        "error": {"code": "not_found", "message": "no such record", "details": None}
    }
    assert Conflict("x").code == "conflict"
