"""The record routes are in the gateway's OpenAPI document with their roles and examples."""

from __future__ import annotations

import pytest

from services.gateway.openapi import build_openapi
from services.gateway.records import if_match
from services.gateway.service import GatewayService
from shared.errors import HTTP_STATUS, PreconditionRequired


def doc():
    return build_openapi(GatewayService, "http://example.org", "1")


def test_the_public_interface_table_routes_exist_with_their_roles():
    paths = doc()["paths"]
    assert paths["/api/v1/records"]["get"]["x-required-roles"] == ["public"]
    assert paths["/api/v1/records"]["post"]["x-required-roles"] == ["cataloguer"]
    assert paths["/api/v1/records/{record_id}"]["get"]["x-required-roles"] == ["public"]
    assert paths["/api/v1/records/{record_id}"]["put"]["x-required-roles"] == ["cataloguer"]
    assert set(paths["/api/v1/records/{record_id}"]["put"]["responses"]) >= {"412", "428"}
    transitions = paths["/api/v1/records/{record_id}/transitions"]["post"]
    assert transitions["x-required-roles"] == ["cataloguer", "reviewer"]
    assert paths["/api/v1/vocabularies/{scheme}/terms"]["post"]["x-required-roles"] == ["admin"]


def test_the_record_schema_is_described_with_language_maps_and_examples():
    schemas = doc()["components"]["schemas"]
    record = schemas["Record"]["properties"]
    assert record["title"]["required"] == ["vi"]
    assert record["title"]["example"] == {"vi": "Đền Nghè", "en": "Nghè temple"}
    assert record["heritage_class"]["enum"] == [
        "tangible_site",
        "intangible",
        "museum_object",
        "documentary",
    ]


class _Request:
    def __init__(self, value):
        self.headers = {} if value is None else {"If-Match": value}


def test_if_match_accepts_strong_and_weak_etags_and_answers_428_without_one():
    assert if_match(_Request('"3"')) == 3
    assert if_match(_Request('W/"12"')) == 12
    assert if_match(_Request(None), required=False) is None
    with pytest.raises(PreconditionRequired) as missing:
        if_match(_Request(None))
    assert HTTP_STATUS[type(missing.value).__name__] == 428
