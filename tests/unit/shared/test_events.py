import unicodedata

import pytest
from marshmallow import Schema, fields

from shared.events import EventError, contract, load_event, make_event, make_events


@contract("unittest.relic_ranked")
class RelicRanked(Schema):
    record_id = fields.String(required=True)
    rank = fields.String(required=True)


def test_event_round_trips_through_its_envelope():
    event = make_event(
        "unittest.relic_ranked",
        {"record_id": "r1", "rank": "national"},
        producer="catalogue",
        actor="user:42",
    )
    again = load_event(event.to_dict())
    assert again == event
    assert event.to_dict()["occurred_at"].endswith("Z")


def test_text_in_events_is_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Đền Nghè")
    event = make_event(
        "unittest.relic_ranked", {"record_id": decomposed, "rank": "city"}, producer="catalogue"
    )
    assert event.data["record_id"] == unicodedata.normalize("NFC", "Đền Nghè")
    assert event.data["record_id"] != decomposed


@pytest.mark.parametrize(
    ("event_type", "version", "data", "reason"),
    [
        ("unittest.relic_ranked", 1, {"record_id": "r1"}, "rank"),
        ("unittest.relic_ranked", 1, {"record_id": 5, "rank": "x"}, "record_id"),
        ("unittest.relic_ranked", 2, {"record_id": "r", "rank": "x"}, "unknown event contract"),
        ("unittest.never_heard_of", 1, {}, "unknown event contract"),
    ],
)
def test_data_must_match_the_registered_contract(event_type, version, data, reason):
    with pytest.raises(EventError, match=reason):
        make_event(event_type, data, producer="t", version=version)


@pytest.mark.parametrize(
    "body",
    [
        "not a dict",
        {},
        {
            "event_id": "not-a-uuid",
            "type": "unittest.relic_ranked",
            "version": 1,
            "occurred_at": "2026-01-01T00:00:00Z",
            "producer": "p",
            "correlation_id": "c",
            "data": {"record_id": "r", "rank": "x"},
        },
        {
            "event_id": "8c1f4d8e-9d5e-4b61-9a37-1d0f2b8b2f10",
            "type": "Bad Type",
            "version": 1,
            "occurred_at": "2026-01-01T00:00:00Z",
            "producer": "p",
            "correlation_id": "c",
            "data": {},
        },
    ],
)
def test_malformed_envelopes_are_refused(body):
    with pytest.raises(EventError):
        load_event(body)


def test_registering_a_different_schema_for_the_same_contract_is_refused():
    class Other(Schema):
        pass

    with pytest.raises(EventError, match="already registered"):
        contract("unittest.relic_ranked")(Other)


def test_nul_in_event_text_becomes_a_replacement_character():
    event = make_event(
        "unittest.relic_ranked", {"record_id": "a\x00b", "rank": "city"}, producer="access"
    )
    assert event.data["record_id"] == "a\ufffdb"


def test_many_events_are_checked_as_one_and_share_a_correlation_id():
    events = make_events(
        "unittest.relic_ranked",
        [{"record_id": "r1", "rank": "national"}, {"record_id": "r2", "rank": "city"}],
        producer="catalogue",
    )
    assert [e.data["record_id"] for e in events] == ["r1", "r2"]
    assert len({e.event_id for e in events}) == 2
    assert len({e.correlation_id for e in events}) == 1
    with pytest.raises(EventError, match="1"):
        make_events("unittest.relic_ranked", [{"record_id": "r1", "rank": "x"}, {}], producer="c")
    assert make_events("unittest.relic_ranked", [], producer="c") == []


def _envelope(**changes):
    body = make_event(
        "unittest.relic_ranked", {"record_id": "r1", "rank": "Quốc gia"}, producer="catalogue"
    ).to_dict()
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"actor": ...},  # absent: "system"
        {"occurred_at": "2026-11-27T04:00:00"},  # naive: UTC
        {"occurred_at": "2026-11-27T11:00:00+07:00"},
        {"event_id": "C0A3D1E2-1111-4222-8333-444455556666"},  # upper case: canonical
        {"version": 2},
    ],
)
def test_the_fast_envelope_path_loads_what_the_schema_loads(changes):
    from shared.events import _ENVELOPE, _plain_envelope

    body = _envelope(**changes)
    assert _plain_envelope(body) == _ENVELOPE.load(body)


@pytest.mark.parametrize(
    "changes",
    [
        {"version": "1"},  # the schema accepts a numeric string: left to the schema
        {"version": True},
        {"version": 0},
        {"extra": 1},
        {"producer": ""},
        {"type": "NotAType"},
        {"event_id": "not-a-uuid"},
        {"occurred_at": "yesterday"},
        {"data": []},
        {"correlation_id": None},
    ],
)
def test_anything_unusual_is_left_to_the_schema(changes):
    from shared.events import _plain_envelope

    body = _envelope(**changes)
    assert _plain_envelope(body) is None
    if changes != {"version": "1"}:
        with pytest.raises(EventError, match="invalid envelope"):
            load_event(body)
    else:
        assert load_event(body).version == 1


def test_event_ids_are_distinct_version_4_uuids():
    import uuid

    from shared.events import new_id

    ids = {new_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(uuid.UUID(i).version == 4 for i in list(ids)[:50])


def test_event_ids_are_what_uuid_makes_of_the_same_random_bytes():
    import os
    import uuid

    from shared.events import _RandomIds

    ids = _RandomIds()
    for _ in range(2000):
        raw = os.urandom(16)
        ids.buffer, ids.offset = raw, 0
        assert ids() == str(uuid.UUID(bytes=raw, version=4))
