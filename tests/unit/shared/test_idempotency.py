"""The pure parts of shared.idempotency: request keys, per-call keys, fingerprints, the wrapper."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from kombu.utils import json as kombu_json

from shared import idempotency
from shared.db import DbSession
from shared.errors import BadRequest, Conflict


def test_a_request_without_a_header_gets_a_new_key_each_time():
    first = idempotency.request_context(None)[idempotency.REQUEST_KEY]
    second = idempotency.request_context("")[idempotency.REQUEST_KEY]
    assert uuid.UUID(first) and uuid.UUID(second) and first != second


def test_the_clients_key_is_kept_as_given():
    key = "order-2026-12-07/0001"
    assert idempotency.request_context(key) == {idempotency.REQUEST_KEY: key}


@pytest.mark.parametrize("bad", ["has space", "x" * 201, "tiếng-việt", "tab\tkey"])
def test_a_malformed_key_is_a_400_saying_why_in_vietnamese_and_english(bad):
    with pytest.raises(BadRequest) as refused:
        idempotency.request_context(bad)
    details = refused.value.details
    assert details["reason"] == "idempotency_key_invalid"
    assert list(details["text"]) == ["vi", "en"]
    assert "Idempotency-Key" in refused.value.message


def test_each_call_of_a_method_in_one_request_has_its_own_key_and_a_repeat_the_same_ones():
    def keys() -> list[str]:
        seen: dict[str, int] = {}
        return [idempotency.call_key("K", m, seen) for m in ("get_record", "add", "add", "create")]

    assert keys() == ["K", "K", "K#2", "K"]
    assert keys() == keys()


def test_the_fingerprint_is_the_same_for_the_same_arguments_only():
    a = idempotency.fingerprint(({"id": "u1"}, {"b": 1, "a": 2}), {})
    assert a == idempotency.fingerprint(({"id": "u1"}, {"a": 2, "b": 1}), {})
    assert a != idempotency.fingerprint(({"id": "u2"}, {"a": 2, "b": 1}), {})
    assert a != idempotency.fingerprint(({"id": "u1"}, {"a": 2, "b": 1}), {"x": 1})


class FakeDb(DbSession):
    """The idempotent_requests table in a dict (the SQL itself runs in integration tests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def execute(self, sql: str, params: Any = None) -> Any:
        key = (params["key"], params["method"])
        if sql.startswith("INSERT"):
            if key in self.rows:
                return Result(None)
            self.rows[key] = {"fp": params["fp"], "result": None}
            return Result((1,))
        if sql.startswith("SELECT"):
            row = self.rows.get(key)
            return Result(None if row is None else (row["fp"], row["result"]))
        self.rows[key]["result"] = params["result"]
        return Result(None)


class Result:
    def __init__(self, row: Any) -> None:
        self.row = row

    def first(self) -> Any:
        return self.row


class Service:
    def __init__(self, key: str | None) -> None:
        self.request_key = key
        self.db = FakeDb()
        self.calls = 0

    @idempotency.idempotent
    def create(self, actor: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"id": str(uuid.uuid4()), "at": datetime(2026, 12, 7, tzinfo=UTC), **body}

    @idempotency.idempotent(private=("password",), secret=("key",))
    def create_key(self, actor: dict[str, Any], name: str, password: str) -> dict[str, Any]:
        self.calls += 1
        return {"id": "k1", "name": name, "key": "dsn_secret"}


def test_a_repeated_call_returns_the_first_result_without_acting_again():
    service = Service("K")
    first = service.create({"id": "u1"}, {"title": "Đình"})
    again = service.create({"id": "u1"}, {"title": "Đình"})
    assert service.calls == 1
    assert again == first  # datetimes and all, as the RPC reply carried them
    assert isinstance(again["at"], datetime)


def test_the_same_key_with_other_arguments_is_a_409_saying_why():
    service = Service("K")
    service.create({"id": "u1"}, {"title": "Đình"})
    with pytest.raises(Conflict) as refused:
        service.create({"id": "u1"}, {"title": "Chùa"})
    assert refused.value.code == "idempotency_key_reused"
    assert list(refused.value.details["text"]) == ["vi", "en"]
    with pytest.raises(Conflict):  # another caller's request under the same key
        service.create({"id": "u2"}, {"title": "Đình"})
    assert service.calls == 1


def test_without_a_key_every_call_acts():
    service = Service(None)
    service.create({"id": "u1"}, {})
    service.create({"id": "u1"}, {})
    assert service.calls == 2 and service.db.rows == {}


def test_private_arguments_stay_out_of_the_fingerprint_and_secrets_out_of_the_memory():
    service = Service("K")
    shown = service.create_key({"id": "admin"}, "LGSP", "s3cret-pass")
    assert shown["key"] == "dsn_secret"
    (row,) = service.db.rows.values()
    stored = kombu_json.loads(row["result"])
    assert "dsn_secret" not in row["result"] and stored["idempotent_replay_without"] == ["key"]
    assert row["fp"] == idempotency.fingerprint((), {"actor": {"id": "admin"}, "name": "LGSP"})
    again = service.create_key({"id": "admin"}, "LGSP", "s3cret-pass")
    assert service.calls == 1 and "key" not in again and again["id"] == "k1"


def test_a_claim_committed_without_a_result_did_not_finish_and_the_repeat_acts():
    service = Service("K")
    fp = idempotency.fingerprint(({"id": "u1"}, {}), {})
    service.db.rows[("K", "create")] = {"fp": fp, "result": None}  # committed, then it raised
    answer = service.create({"id": "u1"}, {})
    assert service.calls == 1 and service.db.rows[("K", "create")]["result"] is not None
    assert service.create({"id": "u1"}, {}) == answer and service.calls == 1
