"""Bad input answers with a clear 4xx naming the problem, and writes nothing."""

from __future__ import annotations

import pytest

from tests.integration.catalogue.conftest import record_body

pytestmark = pytest.mark.integration


def post(catalogue, body, **kwargs):
    return catalogue.request(
        "POST", "/api/v1/records", token=catalogue.token_for("cataloguer"), json=body, **kwargs
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": {"en": "no Vietnamese"}}, "title"),
        ({"title": ["Đền"]}, "title"),
        ({"location": {"lat": 123.0, "lon": 106.0}}, "location"),
        ({"rank": {"level": "imperial"}}, "rank.level"),
        ({"heritage_type": "spaceport"}, "heritage_type"),
        ({"unesco": {"list": "world_heritage", "year": "2023a"}}, "unesco"),
        ({"inventory_number": 42}, "inventory_number"),
        ({"description": {"vi": "tab\tand \x07 bell"}}, "description"),
    ],
)
def test_invalid_records_are_422_with_the_field(catalogue, overrides, field):
    body = record_body(**overrides)
    answer = post(catalogue, body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"]["details"]
    assert not catalogue.catalogue_sql(
        "SELECT 1 FROM records WHERE inventory_number = :n", n=str(body["inventory_number"])
    )


def test_nul_in_a_text_is_refused_at_the_edge(catalogue):
    """NUL never reaches the catalogue: the gateway's JSON reader refuses it (ADR 0037)."""
    body = record_body(description={"vi": "NUL \x00 inside"})
    answer = post(catalogue, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["reason"] == "invalid_text"
    assert not catalogue.catalogue_sql(
        "SELECT 1 FROM records WHERE inventory_number = :n", n=body["inventory_number"]
    )


def test_a_ten_megabyte_description_is_413(catalogue):
    body = record_body(description={"vi": "x" * 10_000_000})
    answer = post(catalogue, body)
    assert answer.status_code == 413
    assert not catalogue.catalogue_sql(
        "SELECT 1 FROM records WHERE inventory_number = :n", n=body["inventory_number"]
    )


def test_duplicate_inventory_numbers_are_409_whatever_the_case(catalogue):
    first = catalogue.create(record_body())
    again = record_body(inventory_number=first["inventory_number"].lower())
    answer = post(catalogue, again)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"


def test_non_json_bodies_are_refused(catalogue):
    token = catalogue.token_for("cataloguer")
    answer = catalogue.request(
        "POST", "/api/v1/records", token=token, data="<x/>", headers={"Content-Type": "text/xml"}
    )
    assert answer.status_code == 415
    answer = catalogue.request(
        "POST",
        "/api/v1/records",
        token=token,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400


def test_roles_that_do_not_catalogue_cannot_create(catalogue):
    for role in ("reviewer", "researcher", "partner"):
        answer = catalogue.request(
            "POST", "/api/v1/records", token=catalogue.token_for(role), json=record_body()
        )
        assert answer.status_code == 403
    assert catalogue.request("POST", "/api/v1/records", json=record_body()).status_code == 401


def test_unknown_ids_and_versions_are_404(catalogue):
    token = catalogue.token_for("admin")
    for path in (
        "/api/v1/records/not-a-uuid",
        "/api/v1/records/00000000-0000-0000-0000-000000000000",
        "/api/v1/records/00000000-0000-0000-0000-000000000000/history",
    ):
        assert catalogue.request("GET", path, token=token).status_code == 404, path


def test_a_bad_if_match_is_400(catalogue):
    record = catalogue.create(record_body())
    answer = catalogue.request(
        "PUT",
        f"/api/v1/records/{record['id']}",
        token=catalogue.token_for("cataloguer"),
        json=record_body(),
        headers={"If-Match": "whatever"},
    )
    assert answer.status_code == 400
