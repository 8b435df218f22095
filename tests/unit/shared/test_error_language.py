"""Refusals in the caller's language (ADR 0045): Accept-Language negotiation and the message."""

from __future__ import annotations

import pytest

from shared.errors import (
    CODES,
    REFUSAL_TEXT,
    error_body,
    localise_body,
    localised_message,
    negotiate_language,
)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "vi"),
        ("", "vi"),
        ("*", "vi"),
        ("fr", "vi"),
        ("en", "en"),
        ("en-GB", "en"),
        ("EN-us,en;q=0.9", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("vi;q=0.2, en;q=0.8", "en"),
        ("fr;q=0.9, en;q=0.8, vi;q=0.1", "en"),
        ("en;q=0", "vi"),
        ("en;q=abc", "vi"),
        ("\x00en", "vi"),
        ("x" * 5000, "vi"),
    ],
)
def test_the_language_is_vi_unless_english_weighs_more(header, language):
    assert negotiate_language(header) == language


def test_every_error_code_has_a_sentence_in_both_languages():
    for code in [*CODES.values(), "internal_error", "query_too_long", "uri_too_long"]:
        text = REFUSAL_TEXT.get(code)
        assert text is not None, code
        assert list(text) == ["vi", "en"] and all(text.values()), code


def test_the_message_is_the_sentence_then_the_particulars():
    assert localised_message("not_found", "no record 42", None, "vi") == (
        "Không tìm thấy: no record 42"
    )
    assert localised_message("not_found", "no record 42", None, "en") == "Not found: no record 42"
    own = {"reason": "empty", "text": {"vi": "Tệp rỗng.", "en": "The file is empty."}}
    assert localised_message("validation_failed", "0 bytes", own, "vi") == "Tệp rỗng: 0 bytes"
    assert localised_message("some_new_code", "", None, "en") == REFUSAL_TEXT["error"]["en"]


def test_a_body_is_localised_once_and_code_and_details_stay():
    body = error_body("forbidden", "only staff", {"field": "x"})
    assert localise_body(body, "en")
    assert body == {
        "error": {
            "code": "forbidden",
            "message": "Not allowed: only staff",
            "details": {"field": "x"},
        }
    }
    assert not localise_body({"items": []}, "en")
    assert not localise_body({"error": "text"}, "en")
