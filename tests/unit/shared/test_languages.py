"""shared.languages: vi first, then en, then the others, in one map and in whole documents."""

from __future__ import annotations

import json
from typing import Any

from shared.languages import answers_vi_first, language_rank, vi_first, vi_first_deep


def test_one_map_lists_vi_then_en_then_the_others_in_their_order() -> None:
    assert list(vi_first({"fr": "c", "en": "b", "de": "d", "vi": "a"})) == ["vi", "en", "fr", "de"]
    assert list(vi_first({"en": "b"})) == ["en"]
    assert vi_first({}) == {}


def test_every_map_in_a_document_is_ordered_and_nothing_else_changes() -> None:
    doc = {
        "title": {"en": "Temple", "vi": "Đền"},
        "items": [{"label": {"en": "x", "vi": "y"}, "count": 2}],
        "b": 1,
        "a": (3, {"en": "", "vi": ""}),
    }
    out = vi_first_deep(doc)
    assert out == {**doc, "a": [3, {"en": "", "vi": ""}]}
    text = json.dumps(out)
    assert text.index('"vi"') < text.index('"en"')
    assert list(out) == ["title", "items", "b", "a"]
    assert list(out["items"][0]["label"]) == ["vi", "en"]
    assert vi_first_deep("text") == "text"


def test_language_keys_sort_before_other_keys() -> None:
    assert sorted(["title", "en", "vi", "address"], key=language_rank) == [
        "vi",
        "en",
        "address",
        "title",
    ]


def test_an_rpc_answer_is_ordered_and_keeps_its_signature() -> None:
    class Service:
        @answers_vi_first
        def read(self, record_id: str) -> dict[str, Any]:
            """Reads."""
            return {"id": record_id, "title": {"en": "b", "vi": "a"}}

    answer = Service().read("r1")
    assert list(answer["title"]) == ["vi", "en"]
    assert Service.read.__name__ == "read" and Service.read.__doc__ == "Reads."
