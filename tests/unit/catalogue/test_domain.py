"""The catalogue's pure rules: class blocks, workflow, visibility, diffs, geography, CSV rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from services.catalogue import domain
from shared import record_schemas as schemas
from shared.errors import BadRequest, Conflict, Forbidden, ValidationFailed
from shared.principals import ANONYMOUS, Principal

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def site(**overrides):
    body = {
        "inventory_number": "HP-DT-0001",
        "heritage_class": "tangible_site",
        "title": {"vi": "Đền Nghè", "en": "Nghè temple"},
    }
    return body | overrides


def test_a_minimal_site_loads_and_dates_become_iso_strings():
    doc = schemas.load_record(
        site(rank={"level": "national", "decision": {"number": "3229", "date": "2020-11-04"}})
    )
    assert doc["rank"]["decision"]["date"] == "2020-11-04"
    assert doc["relations"] == [] and doc["sources"] == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": {"en": "only English"}}, "title"),
        ({"title": {"vi": "   "}}, "title"),
        ({"title": "Đền Nghè"}, "title"),
        ({"title": {"vi": "x", "fr": "y"}}, "title"),
        ({"title": {"vi": "a\x00b"}}, "title"),
        ({"heritage_class": "castle"}, "heritage_class"),
        ({"location": {"lat": 91, "lon": 106}}, "location"),
        ({"location": {"lat": 20, "lon": "east"}}, "location"),
        ({"inventory_number": "has space"}, "inventory_number"),
        ({"description": {"vi": "x" * 50_001}}, "description"),
        ({"intangible": {"domain": "festival"}}, "intangible"),
        ({"colour": "red"}, "colour"),
        ({"unesco": {"list": "world_heritage", "year": "soon"}}, "unesco"),
    ],
)
def test_bad_fields_are_reported_by_name(overrides, field):
    with pytest.raises(ValidationError) as err:
        schemas.load_record(site(**overrides))
    assert field in err.value.messages


def test_text_is_nfc_normalised():
    doc = schemas.load_record(site(title={"vi": "Đe\u0302\u0300n Nghe\u0300"}))
    assert doc["title"]["vi"] == "Đền Nghè"


def test_intangible_records_need_their_block_and_no_rank():
    errors = domain.class_block_errors({"heritage_class": "intangible", "rank": {"level": "x"}})
    assert set(errors) == {"rank", "intangible"}


def test_unknown_vocabulary_terms_are_named():
    doc = schemas.load_record(site(rank={"level": "imperial"}, periods=["ly", "atlantis"]))
    known = {"rank": {"national"}, "period": {"ly"}}
    assert domain.unknown_terms(doc, known) == {
        "rank.level": ["unknown rank term 'imperial'"],
        "periods": ["unknown period term 'atlantis'"],
    }


@pytest.mark.parametrize(
    ("state", "action", "roles", "expected"),
    [
        ("draft", "submit", {"cataloguer"}, "in_review"),
        ("in_review", "publish", {"reviewer"}, "published"),
        ("in_review", "reject", {"reviewer"}, "draft"),
        ("published", "withdraw", {"admin"}, "withdrawn"),
        ("withdrawn", "redraft", {"cataloguer"}, "draft"),
    ],
)
def test_allowed_transitions(state, action, roles, expected):
    assert domain.transition(state, action, frozenset(roles)) == expected


def test_wrong_role_is_forbidden_and_wrong_state_is_a_conflict():
    with pytest.raises(Forbidden):
        domain.transition("in_review", "publish", frozenset({"cataloguer"}))
    with pytest.raises(Conflict):
        domain.transition("draft", "publish", frozenset({"reviewer"}))
    with pytest.raises(ValidationFailed):
        domain.transition("draft", "explode", frozenset({"admin"}))


def test_visible_levels_follow_the_access_decision():
    assert domain.visible_levels(ANONYMOUS, NOW) == {"public"}
    researcher = Principal("user", "1", roles=frozenset({"researcher"}))
    assert domain.visible_levels(researcher, NOW) == {"public", "restricted"}
    staff = Principal("user", "2", roles=frozenset({"cataloguer"}))
    assert domain.visible_levels(staff, NOW) == {"public", "restricted", "embargoed", "staff_only"}


def test_diff_lists_leaf_changes():
    """Fields by name; within a language map vi before en (ADR 0048)."""
    before = {"title": {"vi": "a", "en": "b"}, "rank": None}
    after = {"title": {"vi": "c"}, "rank": {"level": "city"}}
    assert domain.diff(before, after) == [
        {"path": "rank", "before": None, "after": {"level": "city"}},
        {"path": "title.vi", "before": "a", "after": "c"},
        {"path": "title.en", "before": "b", "after": None},
    ]
    assert domain.changed_fields(before, after) == ["rank", "title"]


def test_bbox_and_near_are_checked():
    assert domain.parse_bbox("20.7,106.5,20.9,106.8").north == 20.9
    for bad in ("1,2,3", "x,1,2,3", "30,0,20,1", "nan,0,1,1"):
        with pytest.raises(ValidationFailed):
            domain.parse_bbox(bad)
    near = domain.parse_near("20.85,106.68,5")
    box = near.box()
    assert box.south < 20.85 < box.north and box.west < 106.68 < box.east
    with pytest.raises(ValidationFailed):
        domain.parse_near("20.85,106.68,0")


def test_cursors_round_trip_and_refuse_other_sorts():
    cursor = domain.encode_cursor("title", "den nghe", "id-1")
    assert domain.decode_cursor(cursor, "title") == ("den nghe", "id-1")
    with pytest.raises(BadRequest):
        domain.decode_cursor(cursor, "updated")
    with pytest.raises(BadRequest):
        domain.decode_cursor("not-a-cursor", "title")


def test_csv_rows_round_trip_through_flatten_and_unflatten():
    doc = schemas.load_record(
        site(
            location={"lat": 20.857, "lon": 106.683, "approximate": True},
            sources=[{"citation": "Sở VHTT Hải Phòng"}],
            periods=["mac"],
        )
    )
    row = domain.flatten(doc)
    assert row["location.approximate"] == "true" and row["periods"] == '["mac"]'
    back, errors = domain.unflatten({k: v for k, v in row.items() if v})
    assert not errors
    assert schemas.load_record(back) == doc


def test_a_list_cell_that_is_not_json_is_an_error():
    _, errors = domain.unflatten({"periods": "mac, ly"})
    assert "periods" in errors
