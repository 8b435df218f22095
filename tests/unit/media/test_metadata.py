"""What an uploader says of an asset (shared.media.metadata): kept whole, or refused with
the field at fault, never dropped (issue 15)."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.media.metadata import clean_metadata, metadata_from_json


def test_form_fields_become_captions_in_two_languages_and_an_order():
    meta = clean_metadata(
        {"caption_vi": " Đình ", "caption_en": "", "creator": "Bảo tàng", "position": "4"}
    )
    assert meta == {"caption": {"vi": "Đình"}, "creator": "Bảo tàng", "position": 4}
    assert clean_metadata({"sha256": "ab" * 32}) == {}


def test_json_captions_are_kept_not_dropped():
    meta = metadata_from_json(
        {
            "caption": {"vi": "Mặt trước", "en": "Front"},
            "section": {"vi": "Đạo 1"},
            "creator": "Nguyễn Văn A",
            "date": "1924",
            "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
            "position": 2,
        }
    )
    assert meta == {
        "caption": {"vi": "Mặt trước", "en": "Front"},
        "section": {"vi": "Đạo 1"},
        "creator": "Nguyễn Văn A",
        "date": "1924",
        "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
        "position": 2,
    }
    assert metadata_from_json({"caption_vi": "Tờ 1"}) == {"caption": {"vi": "Tờ 1"}}


@pytest.mark.parametrize(
    ("given", "field", "reason"),
    [
        ({"title": "x"}, "title", "unknown_metadata"),
        ({"captions": {"vi": "x"}}, "captions", "unknown_metadata"),
        ({"caption": {"fr": "x"}}, "caption.fr", "unknown_metadata"),
        ({"caption": "Tờ 1"}, "caption", "invalid_metadata"),
        ({"creator": 5}, "creator", "invalid_metadata"),
        ({"position": "first"}, "position", "invalid_metadata"),
        ({"position": -1}, "position", "invalid_metadata"),
        ({"position": True}, "position", "invalid_metadata"),
        ({"date": "x" * 2001}, "date", "invalid_metadata"),
    ],
)
def test_unknown_or_malformed_json_metadata_is_refused_with_the_field(given, field, reason):
    with pytest.raises(ValidationFailed) as refused:
        metadata_from_json(given)
    assert refused.value.details["field"] == field
    assert refused.value.details["reason"] == reason
    assert list(refused.value.details["text"]) == ["vi", "en"]


def test_unknown_form_fields_are_refused():
    with pytest.raises(ValidationFailed) as refused:
        clean_metadata({"caption_vi": "Tờ", "label": "Page"})
    assert refused.value.details["field"] == "label"
    with pytest.raises(ValidationFailed):
        metadata_from_json(["caption"])
