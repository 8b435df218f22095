"""While the broker is down or restarting, a call through the gateway is a 503 with
``Retry-After`` and a vi/en text, never a 500 (issue 14)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import amqp
import kombu.exceptions
import pytest

from services.gateway.http import error_response, response_for_exception
from shared.errors import Unavailable
from shared.rpc_client import ServiceClient, take_request_key
from tests.unit.gateway.test_idempotency_key import http_worker

DOWN = [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    amqp.exceptions.RecoverableConnectionError("connection already closed"),
    kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
]


class DeadMethod:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def call_async(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize("error", DOWN, ids=lambda e: type(e).__name__)
def test_a_call_while_the_broker_is_down_is_a_503_saying_so(error: BaseException) -> None:
    worker = http_worker({"Idempotency-Key": "K-1"})
    take_request_key(worker)
    proxy = SimpleNamespace(worker_ctx=worker, create_record=DeadMethod(error))
    client = ServiceClient(proxy, "catalogue service", 5.0, None)  # type: ignore[arg-type]
    with pytest.raises(Unavailable) as caught:
        client.call("create_record", {}, {})
    details = caught.value.details
    assert details["reason"] == "bus_unavailable"
    assert details["idempotency_key"] == "K-1"
    assert list(details["text"]) == ["vi", "en"]
    response = response_for_exception(caught.value)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(details["retry_after"])


@pytest.mark.parametrize("error", DOWN, ids=lambda e: type(e).__name__)
def test_a_broker_error_reaching_the_error_mapping_is_a_503_not_a_500(
    error: BaseException,
) -> None:
    response = response_for_exception(error)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


def test_every_503_says_when_to_come_back() -> None:
    assert (
        int(
            error_response(503, "unavailable", "the session store is unreachable").headers[
                "Retry-After"
            ]
        )
        > 0
    )
    assert error_response(503, "unavailable", "x", {"retry_after": 9}).headers["Retry-After"] == "9"
    assert "Retry-After" not in error_response(500, "internal_error", "x").headers
