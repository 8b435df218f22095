"""Creating requests over real HTTP, RabbitMQ and PostgreSQL act once per Idempotency-Key
(issue 14): repeats, a catalogue killed after committing and before answering, and a gateway
that gave up waiting (503) all end with one record and answers that say what happened."""

from __future__ import annotations

import uuid
from typing import Any

import eventlet
import pytest

import shared.rpc
from shared.rpc_client import ServiceRpc
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def post_record(catalogue: Any, body: dict[str, Any], key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return catalogue.request(
        "POST",
        "/api/v1/records",
        token=catalogue.token_for("cataloguer"),
        json=body,
        headers=headers,
    )


def count(catalogue: Any, inventory_number: str) -> int:
    rows = catalogue.catalogue_sql(
        "SELECT count(*) FROM records WHERE inventory_number = :n", n=inventory_number
    )
    return int(rows[0][0])


def hang_after_commit(monkeypatch: Any) -> list[bool]:
    """The next catalogue RPC worker commits, then hangs before it answers and acknowledges
    (as a process that dies there) until its container is killed."""
    hung: list[bool] = []
    real = shared.rpc.commit_worker

    def commit_then_hang(worker_ctx: Any) -> None:
        real(worker_ctx)
        if not hung and worker_ctx.service_name.endswith("_catalogue"):
            hung.append(True)
            while True:
                eventlet.sleep(0.05)

    monkeypatch.setattr(shared.rpc, "commit_worker", commit_then_hang)
    return hung


def test_a_create_repeated_with_its_key_answers_the_same_record_once(catalogue):
    body, key = record_body(), str(uuid.uuid4())
    first = post_record(catalogue, body, key)
    again = post_record(catalogue, body, key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert count(catalogue, body["inventory_number"]) == 1


def test_the_same_key_with_another_body_is_a_409_and_a_malformed_key_a_400(catalogue):
    key = str(uuid.uuid4())
    assert post_record(catalogue, record_body(), key).status_code == 201
    other = record_body()
    refused = post_record(catalogue, other, key)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert list(error["details"]["text"]) == ["vi", "en"]
    assert count(catalogue, other["inventory_number"]) == 0
    malformed = post_record(catalogue, record_body(), "two words")
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error"]["details"]["reason"] == "idempotency_key_invalid"


def test_a_transition_repeated_with_its_key_is_done_once(catalogue):
    record = post_record(catalogue, record_body(), None).json()
    key = str(uuid.uuid4())

    def submit() -> Any:
        return catalogue.request(
            "POST",
            f"/api/v1/records/{record['id']}/transitions",
            token=catalogue.token_for("cataloguer"),
            json={"action": "submit", "comment": "xin duyệt"},
            headers={"Idempotency-Key": key},
        )

    def events() -> int:
        rows = catalogue.catalogue_sql(
            "SELECT count(*) FROM outbox WHERE envelope->'data'->>'record_id' = :r",
            r=record["id"],
        )
        return int(rows[0][0])

    first = submit()
    assert first.status_code == 200, first.text
    announced = events()
    again = submit()
    assert again.status_code == 200, again.text  # not a 409 for a submit that succeeded
    assert again.json() == first.json()
    assert events() == announced


def test_an_update_repeated_with_its_key_answers_its_result_not_a_412(catalogue):
    body = record_body()
    created = post_record(catalogue, body, None)
    key = str(uuid.uuid4())

    def update() -> Any:
        return catalogue.request(
            "PUT",
            f"/api/v1/records/{created.json()['id']}",
            token=catalogue.token_for("cataloguer"),
            json=body | {"title": {"vi": "Đền đã sửa", "en": "Temple, edited"}},
            headers={"Idempotency-Key": key, "If-Match": created.headers["ETag"]},
        )

    first, again = update(), update()
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and again.json()["version"] == 2


def test_a_catalogue_killed_after_committing_a_create_answers_it_once_after_restart(
    catalogue, monkeypatch
):
    hung = hang_after_commit(monkeypatch)
    body = record_body()
    answer = eventlet.spawn(post_record, catalogue, body, None)  # no key: the gateway makes one
    wait_until(lambda: hung, timeout=20)
    catalogue.services.containers["catalogue"].kill()  # the request goes back to the queue
    catalogue.services.start_again("catalogue")
    created = answer.wait()
    assert created.status_code == 201, created.text
    rows = catalogue.catalogue_sql(
        "SELECT id FROM records WHERE inventory_number = :n", n=body["inventory_number"]
    )
    assert [str(r.id) for r in rows] == [created.json()["id"]]


@pytest.mark.parametrize(("action", "role"), [("submit", "cataloguer"), ("publish", "reviewer")])
def test_a_catalogue_killed_after_committing_a_transition_answers_it_once_after_restart(
    catalogue, monkeypatch, action, role
):
    """The field test saw 409 for submits and publishes that had succeeded: the redelivered
    transition answers its own result, and the record moves and is announced once."""
    record = post_record(catalogue, record_body(), None).json()
    if action == "publish":
        assert catalogue.move(record["id"], "submit", "cataloguer").status_code == 200
    before = catalogue.catalogue_sql(
        "SELECT count(*) FROM outbox WHERE envelope->'data'->>'record_id' = :r", r=record["id"]
    )[0][0]
    hung = hang_after_commit(monkeypatch)
    answer = eventlet.spawn(catalogue.move, record["id"], action, role)
    wait_until(lambda: hung, timeout=20)
    catalogue.services.containers["catalogue"].kill()  # the request goes back to the queue
    catalogue.services.start_again("catalogue")
    moved = answer.wait()
    assert moved.status_code == 200, moved.text  # not a 409 for a move that succeeded
    state = {"submit": "in_review", "publish": "published"}[action]
    assert moved.json()["state"] == state, moved.text
    after = catalogue.catalogue_sql(
        "SELECT count(*) FROM outbox WHERE envelope->'data'->>'record_id' = :r", r=record["id"]
    )[0][0]
    assert after - before == 1, (before, after)  # one event per move, never two


def test_a_503_after_a_timeout_says_it_may_be_done_and_its_key_gets_the_result(
    catalogue, monkeypatch
):
    for dependency in catalogue.services.containers["gateway"].dependencies:
        if isinstance(dependency, ServiceRpc) and dependency.service == "catalogue":
            monkeypatch.setattr(dependency, "timeout", 2.0)
    hung = hang_after_commit(monkeypatch)
    body = record_body()
    timed_out = post_record(catalogue, body, None)
    assert hung and timed_out.status_code == 503, timed_out.text
    error = timed_out.json()["error"]
    assert error["details"]["reason"] == "outcome_unknown"
    assert "may have been" in error["message"] and list(error["details"]["text"]) == ["vi", "en"]
    key = error["details"]["idempotency_key"]
    catalogue.services.containers["catalogue"].kill()
    catalogue.services.start_again("catalogue")
    repeated = post_record(catalogue, body, key)  # what the answer told the client to do
    assert repeated.status_code == 201, repeated.text
    assert count(catalogue, body["inventory_number"]) == 1


def test_creates_in_flight_while_the_catalogue_is_killed_again_and_again(catalogue, monkeypatch):
    """The field test's restarts: the catalogue dies again and again, once just after a commit
    and with other requests anywhere in flight. Every answer is a 201 naming the one record
    made, or a 503 saying the outcome is unknown, whose key then gets that one record."""
    crashes = 4
    hung: list[bool] = []
    real = shared.rpc.commit_worker

    def sometimes_die_after_commit(worker_ctx: Any) -> None:
        real(worker_ctx)
        if worker_ctx.entrypoint.method_name == "create_record" and len(hung) < crashes:
            hung.append(True)
            while True:  # the process dies here, its work committed, the request unacked
                eventlet.sleep(0.05)

    monkeypatch.setattr(shared.rpc, "commit_worker", sometimes_die_after_commit)
    bodies = [record_body() for _ in range(24)]
    keys = [str(uuid.uuid4()) if n % 2 else None for n in range(len(bodies))]  # half without
    answers: dict[int, Any] = {}
    pool = eventlet.GreenPool(8)

    def send(n: int) -> None:
        answers[n] = post_record(catalogue, bodies[n], keys[n])

    for n in range(len(bodies)):
        pool.spawn_n(send, n)
    for crash in range(1, crashes + 1):
        wait_until(lambda crash=crash: len(hung) >= crash, timeout=30)
        catalogue.services.containers["catalogue"].kill()  # others die mid-way, uncommitted
        catalogue.services.start_again("catalogue")
    pool.waitall()
    for n, answer in sorted(answers.items()):
        if answer.status_code == 503:
            error = answer.json()["error"]
            assert error["details"]["reason"] == "outcome_unknown", answer.text
            answer = post_record(catalogue, bodies[n], error["details"]["idempotency_key"])
        assert answer.status_code == 201, answer.text
        rows = catalogue.catalogue_sql(
            "SELECT id FROM records WHERE inventory_number = :n",
            n=bodies[n]["inventory_number"],
        )
        assert [str(r.id) for r in rows] == [answer.json()["id"]]
