"""The importer's ``record_created`` events: taken by the contract's plain check (shared.plain),
equal to what the schema builds, and refused where the schema refuses."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import fields

from services.catalogue import records
from services.catalogue.records import SYSTEM
from shared.contracts.catalogue import RecordCreatedV1
from shared.events import EventError, make_events
from shared.plain import plain_checker


def _data(**change: object) -> dict[str, object]:
    return {
        "record_id": str(uuid.uuid4()),
        "inventory_number": "HP-0001",
        "heritage_class": "tangible_site",
        "version": 1,
        "state": "draft",
        "title": {"vi": "Đền Nghè", "en": "Nghe temple"},
    } | change


def _comparable(events: list) -> list[tuple]:
    return [(e.type, e.data, list(e.data), e.producer, e.version, e.actor) for e in events]


def _plain(data: dict[str, object]) -> dict[str, object] | None:
    check = plain_checker(RecordCreatedV1())
    assert check is not None  # the import's speed depends on it (ADR 0044)
    return check(data)


def test_the_contract_shape_is_known_so_the_plain_path_is_taken():
    assert _plain(_data()) is not None


def test_plain_events_equal_what_make_events_builds():
    datas = [_data(), _data(title={"vi": "Chùa Dư Hàng"}), _data(version=3, state="published")]
    fast = records.events("catalogue.record_created", datas, SYSTEM, "c-1")
    slow = make_events(
        "catalogue.record_created", datas, producer="catalogue", actor="system", correlation_id="c"
    )
    assert _comparable(fast) == _comparable(slow)
    assert {e.correlation_id for e in fast} == {"c-1"}
    assert len({e.event_id for e in fast}) == 3


def test_text_is_nfc_normalised_as_make_events_does():
    decomposed = "Đe\u0300n"  # e + combining grave
    (event,) = records.events(
        "catalogue.record_created", [_data(title={"vi": decomposed})], SYSTEM, None
    )
    assert event.data["title"]["vi"] == "Đèn"


@pytest.mark.parametrize(
    "change",
    [
        {"heritage_class": "castle"},
        {"state": "lost"},
        {"version": 0},
        {"inventory_number": ""},
        {"inventory_number": "x" * 65},
        {"record_id": "not-a-uuid"},
        {"title": {"vi": 5}},
    ],
)
def test_data_the_contract_refuses_is_refused_by_the_contract(change: dict[str, object]):
    assert _plain(_data(**change)) is None
    with pytest.raises(EventError):
        records.events("catalogue.record_created", [_data(), _data(**change)], SYSTEM, None)


def test_nul_becomes_a_replacement_character_as_make_events_does():
    (event,) = records.events(
        "catalogue.record_created", [_data(inventory_number="HP\x00-1")], SYSTEM, None
    )
    assert event.data["inventory_number"] == "HP\ufffd-1"


@pytest.mark.parametrize(
    "change",
    [
        {"record_id": str(uuid.uuid4()).upper()},  # valid, but not the form the contract dumps
        {"version": True},
        {"extra": 1},
    ],
)
def test_unusual_data_goes_through_the_contract(change: dict[str, object]):
    data = _data(**change)
    try:
        expected = make_events("catalogue.record_created", [data], producer="catalogue")
    except EventError:
        with pytest.raises(EventError):
            records.events("catalogue.record_created", [data], SYSTEM, None)
        return
    got = records.events("catalogue.record_created", [data], SYSTEM, None)
    assert [e.data for e in got] == [e.data for e in expected]


def test_a_contract_of_another_shape_turns_the_plain_path_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(RecordCreatedV1._declared_fields, "title", fields.Email(required=True))
    assert plain_checker(RecordCreatedV1()) is None
