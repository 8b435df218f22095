"""Vocabularies seeded from the file and extended by admins; the demo data loads once."""

from __future__ import annotations

import uuid

import pytest
import requests
from jsonschema import Draft202012Validator

from services.catalogue import demo
from services.gateway.openapi import build_openapi
from services.gateway.service import GatewayService
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

SPEC = build_openapi(GatewayService, "http://127.0.0.1:8000", "test")


def documented(path: str, method: str, status: int, body: object) -> list[str]:
    """What in a real answer disagrees with the OpenAPI document's schema of it."""
    op = SPEC["paths"][path][method]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(schema | {"components": SPEC["components"]})
    return [e.message for e in validator.iter_errors(body)]


def test_seeded_vocabularies_have_vi_and_en_labels(catalogue):
    listed = catalogue.request("GET", "/api/v1/vocabularies").json()
    assert documented("/api/v1/vocabularies", "get", 200, listed) == []
    schemes = {v["scheme"] for v in listed["items"]}
    assert {"rank", "district", "period", "material", "unesco_list", "heritage_type"} <= schemes
    vocabulary = catalogue.request("GET", "/api/v1/vocabularies/rank").json()
    assert documented("/api/v1/vocabularies/{scheme}", "get", 200, vocabulary) == []
    ranks = vocabulary["terms"]
    special = next(t for t in ranks if t["code"] == "special_national")
    assert special["labels"] == {
        "vi": "Di tích quốc gia đặc biệt",
        "en": "Special national relic",
    }
    assert catalogue.request("GET", "/api/v1/vocabularies/nothing").status_code == 404


def test_admins_extend_a_vocabulary_and_records_may_use_the_new_term(catalogue):
    code = "m" + uuid.uuid4().hex[:6]
    term = {"code": code, "labels": {"vi": "Đất nung", "en": "Terracotta"}}
    path = "/api/v1/vocabularies/material/terms"
    assert (
        catalogue.request(
            "POST", path, token=catalogue.token_for("cataloguer"), json=term
        ).status_code
        == 403
    )
    added = catalogue.request("POST", path, token=catalogue.token_for("admin"), json=term)
    assert added.status_code == 201, added.text
    assert documented("/api/v1/vocabularies/{scheme}/terms", "post", 201, added.json()) == []
    again = catalogue.request("POST", path, token=catalogue.token_for("admin"), json=term)
    assert again.status_code == 409
    bad = catalogue.request(
        "POST", path, token=catalogue.token_for("admin"), json={"code": "x", "labels": {}}
    )
    assert bad.status_code == 422
    record = catalogue.create(
        record_body(
            heritage_class="museum_object",
            rank=None,
            museum_object={
                "holding_institution": {"vi": "Bảo tàng Hải Phòng"},
                "materials": [code],
            },
        )
    )
    assert record["museum_object"]["materials"] == [code]


def test_demo_data_loads_once_with_a_restricted_record_and_a_draft(catalogue):
    first = demo.load_into_stack(
        catalogue.settings, catalogue.catalogue_name, catalogue.access_name
    )
    second = demo.load_into_stack(
        catalogue.settings, catalogue.catalogue_name, catalogue.access_name
    )
    items = demo.items()
    assert first.startswith(f"{len(items)} demo record(s) created")
    assert second.startswith("0 demo record(s) created")
    by_key = {i["key"]: i for i in items}
    restricted = by_key["dia-ba"]["id"]
    draft = by_key["huong-uoc"]["id"]
    wait_until(
        lambda: catalogue.catalogue_sql(
            "SELECT 1 FROM records WHERE id = CAST(:id AS uuid) AND access_level = 'restricted'",
            id=restricted,
        )
    )
    public = catalogue.request("GET", "/api/v1/records", params={"q": "ban ghi mau"}).json()
    ids = {i["id"] for i in public["items"]}
    assert by_key["sac-phong"]["id"] in ids and restricted not in ids and draft not in ids
    assert catalogue.request("GET", f"/api/v1/records/{restricted}").status_code == 401
    assert catalogue.request("GET", f"/api/v1/records/{draft}").status_code == 404
    nghe = catalogue.request("GET", "/api/v1/records", params={"q": "DEN NGHE"}).json()
    assert by_key["den-nghe"]["id"] in {i["id"] for i in nghe["items"]}
    cat_ba = requests.get(
        catalogue.url(f"/api/v1/records/{by_key['cat-ba']['id']}"), timeout=10
    ).json()
    assert cat_ba["unesco"]["year"] == 2023 and cat_ba["location"]["approximate"] is True
    assert cat_ba["sources"] and cat_ba["description"]["en"]
