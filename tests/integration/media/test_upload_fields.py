"""Upload form fields are checked, never stored as sent (issue 15): a date that is not EDTF, a
rights statement that is not a URI and a second file part are 422s naming the field."""

from __future__ import annotations

import pytest
import requests

from services.media.domain import MASTERS_BUCKET
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def record_id(media):
    return media.new_record()


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"date": "yesterday-ish"}, "date", "invalid_date"),
        ({"date": "2023-02-30"}, "date", "invalid_date"),
        (
            {"rights_statement": "all rights reserved"},
            "rights_statement",
            "invalid_rights_statement",
        ),
    ],
)
def test_bad_metadata_values_are_422_naming_the_field(media, record_id, fields, field, reason):
    before = set(media.store.list_keys(MASTERS_BUCKET))
    answer = media.upload(record_id, jpeg(64, 48), "a.jpg", fields=fields)
    assert answer.status_code == 422, answer.text
    details = answer.json()["error"]["details"]
    assert (details["field"], details["reason"]) == (field, reason)
    assert list(details["text"]) == ["vi", "en"]
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before, "an object was left behind"


def test_edtf_dates_and_rights_uris_are_kept(media, record_id):
    fields = {"date": "193X?", "rights_statement": "http://rightsstatements.org/vocab/InC/1.0/"}
    answer = media.upload(record_id, jpeg(64, 48), "b.jpg", fields=fields)
    assert answer.status_code == 202, answer.text
    asset = media.asset(answer.json()["asset_id"])
    assert asset["metadata"]["date"] == "193X?"
    assert asset["metadata"]["rights_statement"] == fields["rights_statement"]


def test_a_second_file_part_is_422(media, record_id):
    before = set(media.store.list_keys(MASTERS_BUCKET))
    answer = requests.post(
        media.url(f"/api/v1/records/{record_id}/media"),
        headers={"Authorization": f"Bearer {media.token_for('cataloguer')}"},
        files=[
            ("file", ("a.jpg", jpeg(64, 48), "image/jpeg")),
            ("file", ("b.jpg", jpeg(32, 24), "image/jpeg")),
        ],
        timeout=60,
    )
    assert answer.status_code == 422, answer.text
    details = answer.json()["error"]["details"]
    assert (details["field"], details["reason"]) == ("file", "second_file")
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before, "an object was left behind"


def test_a_refusal_says_its_own_text_in_the_callers_language(media, record_id):
    fields = {"date": "yesterday-ish"}
    vi = media.upload(record_id, jpeg(64, 48), "c.jpg", fields=fields)
    en = media.upload(
        record_id, jpeg(64, 48), "c.jpg", fields=fields, headers={"Accept-Language": "en"}
    )
    assert vi.status_code == en.status_code == 422
    assert vi.json()["error"]["message"].startswith("Ngày phải theo EDTF"), vi.text
    assert en.json()["error"]["message"].startswith("The date must be EDTF"), en.text
    assert "yesterday-ish" in en.json()["error"]["message"]
