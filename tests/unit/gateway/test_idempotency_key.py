"""How the gateway gives each request its idempotency key, what a timeout answers, and what the
OpenAPI document says of both (ADR 0010)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.openapi import build_openapi
from services.gateway.service import GatewayService
from shared import idempotency
from shared.rpc_client import ServiceClient, outcome_unknown, take_request_key


def http_worker(headers: dict[str, str] | None = None) -> Any:
    request = Request(EnvironBuilder(method="POST", path="/x", headers=headers or {}).get_environ())
    return SimpleNamespace(data={}, args=(request,))


def test_an_http_worker_gets_the_clients_key_or_a_new_one():
    given = http_worker({"Idempotency-Key": "abc-123"})
    assert take_request_key(given) is None
    assert given.data[idempotency.REQUEST_KEY] == "abc-123"
    made = http_worker()
    take_request_key(made)
    assert made.data[idempotency.REQUEST_KEY] and made.data[idempotency.REQUEST_KEY] != "abc-123"


def test_a_key_already_in_the_context_is_kept_and_workers_called_without_one_get_none():
    worker = http_worker({"Idempotency-Key": "new"})
    worker.data[idempotency.REQUEST_KEY] = "set-before"
    take_request_key(worker)
    assert worker.data[idempotency.REQUEST_KEY] == "set-before"
    event_worker = rpc_worker({})
    take_request_key(event_worker)
    assert event_worker.data == {}


def rpc_worker(data: dict[str, str]) -> Any:
    return SimpleNamespace(
        data=data,
        args=({"actor": "x"},),
        service_name="notifications",
        entrypoint=SimpleNamespace(method_name="create_subscription"),
    )


def test_a_service_called_with_a_key_calls_on_under_keys_of_its_own_call():
    called = rpc_worker({idempotency.REQUEST_KEY: "K", idempotency.CALL_KEY: "K#2"})
    take_request_key(called)
    nested = called.data[idempotency.REQUEST_KEY]
    assert nested == "K#2>notifications.create_subscription"
    again = rpc_worker({idempotency.REQUEST_KEY: "K", idempotency.CALL_KEY: "K#2"})
    take_request_key(again)  # a redelivery derives the same key
    assert again.data[idempotency.REQUEST_KEY] == nested
    client = ServiceClient(SimpleNamespace(worker_ctx=called), "access", 1.0, None)
    assert client._key_for("get_policy") == nested  # never "K", the gateway's own key


def test_a_malformed_key_refuses_every_call_of_the_request():
    worker = http_worker({"Idempotency-Key": "with space"})
    refusal = take_request_key(worker)
    assert refusal is not None and refusal.code == "bad_request"
    client = ServiceClient(SimpleNamespace(worker_ctx=worker), "catalogue", 1.0, None, refusal)
    try:
        client.call("create_record", {}, {})
    except Exception as exc:  # noqa: BLE001 - checked below
        assert exc is refusal
    else:
        raise AssertionError("the call went out")


def test_each_call_carries_its_own_key_in_the_context_data():
    worker = http_worker({"Idempotency-Key": "K"})
    take_request_key(worker)
    client = ServiceClient(SimpleNamespace(worker_ctx=worker), "catalogue", 1.0, None)
    assert [client._key_for(m) for m in ("get_record", "add_term", "add_term")] == [
        "K",
        "K",
        "K#2",
    ]
    assert worker.data[idempotency.CALL_KEY] == "K#2"
    assert client.stable_id("upload", "u1") == client.stable_id("upload", "u1")
    assert client.stable_id("upload", "u1") != client.stable_id("upload", "u2")


def test_a_timeout_says_the_action_may_be_done_and_which_key_repeats_it_safely():
    error = outcome_unknown("catalogue", "K#2")
    assert error.code == "unavailable"
    assert "may have been carried out" in error.message and "Idempotency-Key" in error.message
    assert error.details["reason"] == "outcome_unknown"
    assert error.details["idempotency_key"] == "K"
    assert list(error.details["text"]) == ["vi", "en"]


def test_every_writing_operation_documents_the_header_and_its_503():
    doc = build_openapi(GatewayService, "http://example.org", "1")
    writes = [
        op
        for ops in doc["paths"].values()
        for m, op in ops.items()
        if m in ("post", "put", "delete")
    ]
    assert len(writes) > 20
    sign_in = {"auth_token", "auth_refresh", "auth_logout", "iiif_auth_login"}
    for op in writes:
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        if op["operationId"] in sign_in:  # no answer of theirs is remembered (tokens)
            assert names == [], op["operationId"]
            continue
        assert names == ["Idempotency-Key"], op["operationId"]
        assert "outcome_unknown" in op["responses"]["503"]["description"], op["operationId"]
