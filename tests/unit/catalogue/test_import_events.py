"""The importer's ``record_created`` events: the plain-data path equals the contract's own pass."""

from __future__ import annotations

import uuid

import pytest

from services.catalogue import records
from services.catalogue.records import SYSTEM
from shared.events import EventError, make_events


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


def test_the_contract_shape_is_known_so_the_plain_path_is_taken():
    assert records._CREATED_CHECKS is not None
    assert records._plain_created(_data()) is not None


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
    assert records._plain_created(_data(title={"vi": decomposed})) is None
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
    assert records._plain_created(_data(**change)) is None
    with pytest.raises(EventError):
        records.events("catalogue.record_created", [_data(), _data(**change)], SYSTEM, None)


@pytest.mark.parametrize(
    "change",
    [
        {"record_id": str(uuid.uuid4()).upper()},  # valid, but not the form the contract dumps
        {"version": True},
        {"inventory_number": "HP\x00-1"},
        {"extra": 1},
    ],
)
def test_unusual_data_goes_through_the_contract(change: dict[str, object]):
    data = _data(**change)
    assert records._plain_created(data) is None
    try:
        expected = make_events("catalogue.record_created", [data], producer="catalogue")
    except EventError:
        with pytest.raises(EventError):
            records.events("catalogue.record_created", [data], SYSTEM, None)
        return
    got = records.events("catalogue.record_created", [data], SYSTEM, None)
    assert [e.data for e in got] == [e.data for e in expected]


def test_a_contract_of_another_shape_turns_the_plain_path_off(monkeypatch: pytest.MonkeyPatch):
    from marshmallow import fields

    from shared.contracts.catalogue import RecordCreatedV1

    monkeypatch.setitem(RecordCreatedV1._declared_fields, "title", fields.String(required=True))
    assert records._created_checks() is None
    monkeypatch.setitem(RecordCreatedV1._declared_fields, "title", fields.Dict(required=True))
    assert records._created_checks() is None  # keys and values no longer declared as strings
