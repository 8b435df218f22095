"""Content Search 2.0 and AutoComplete 2.0 documents, query checks and hit highlighting."""

from __future__ import annotations

import pytest

from iiif.search import (
    CONTEXT,
    MAX_QUERY_CHARS,
    SearchQueryError,
    autocomplete_page,
    check_query,
    find_hits,
    fold,
    ignored_parameters,
    query_words,
    search_page,
    search_service,
    sql_patterns,
)

BASE = "https://disan.example"
RID = "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11"
URL = f"{BASE}/iiif/search/2/records/{RID}"


def test_the_manifest_advertises_search_with_autocomplete():
    assert search_service(BASE + "/", RID) == {
        "id": URL,
        "type": "SearchService2",
        "service": [{"id": URL + "/autocomplete", "type": "AutoCompleteService2"}],
    }


def test_fold_drops_case_and_vietnamese_diacritics_one_character_each():
    for text in ("Đền Nghè", "ĐỀN NGHÈ", "đền nghè"):
        assert fold(text) == "den nghe"
    assert fold("Hải Phòng") == "hai phong"
    assert len(fold("Đại Việt sử ký toàn thư")) == len("Đại Việt sử ký toàn thư")
    assert fold("大越史記") == "大越史記"


def test_queries_are_checked():
    assert check_query("  Đe\u0302\u0300n ") == "Đền"
    for bad in (None, "", "   ", "x" * (MAX_QUERY_CHARS + 1), "a" * 10_240):
        with pytest.raises(SearchQueryError):
            check_query(bad)
    assert query_words("Đền, NGHÈ!") == ["den", "nghe"]
    assert len(query_words(" ".join(["a"] * 50))) == 12


def test_hits_ignore_diacritics_match_whole_words_and_the_last_as_a_prefix():
    text = "Đền Nghè ở Hải Phòng, đền thờ nữ tướng Lê Chân; denim"
    exact = [text[h.start : h.end] for h in find_hits(text, query_words("đền thờ"))]
    assert exact == ["Đền", "đền", "thờ"]
    prefix = [text[h.start : h.end] for h in find_hits(text, query_words("den"))]
    assert prefix == ["Đền", "đền", "denim"]
    assert find_hits(text, query_words("phong hai")) == [] or all(
        text[h.start : h.end] in ("Phòng", "Hải") for h in find_hits(text, query_words("phong hai"))
    )
    assert find_hits(text, []) == []
    assert find_hits("Nghèo", query_words("nghe thờ")) == []


def test_han_nom_matches_inside_a_line_without_spaces():
    text = "大越史記全書卷之一"
    hits = find_hits(text, query_words("史記"))
    assert [text[h.start : h.end] for h in hits] == ["史記"]
    assert sql_patterns(query_words("史記")) == ["史記"]


def test_sql_patterns_follow_the_same_rule():
    assert sql_patterns(["den", "tho"]) == ["\\mden\\M", "\\mtho"]


def test_selector_gives_prefix_exact_suffix():
    text = "Bia đá ghi công đức xây dựng đình làng năm Cảnh Hưng thứ 12"
    [hit] = find_hits(text, query_words("dinh"))
    sel = hit.selector(text, context=10)
    assert sel == {
        "type": "TextQuoteSelector",
        "prefix": " xây dựng ",
        "exact": "đình",
        "suffix": " làng năm ",
    }


def anno(n: int, text: str) -> dict:
    return {
        "annotation": {
            "id": f"{BASE}/iiif/annotations/3/a{n}",
            "type": "Annotation",
            "motivation": "commenting",
            "body": {"type": "TextualBody", "value": text, "format": "text/plain"},
            "target": f"{BASE}/canvas/1#xywh=1,1,10,10",
        },
        "text": text,
    }


def test_search_page_lists_matched_annotations_and_highlights_each_hit():
    doc = search_page(URL, "đình", [anno(1, "Đình làng Kiền Bái, đình cổ")], total=1)
    assert doc["@context"] == CONTEXT and doc["type"] == "AnnotationPage"
    assert doc["id"] == URL + "?q=%C4%91%C3%ACnh"
    assert [i["id"] for i in doc["items"]] == [f"{BASE}/iiif/annotations/3/a1"]
    highlights = doc["annotations"][0]["items"]
    assert [h["motivation"] for h in highlights] == ["highlighting", "highlighting"]
    assert highlights[0]["target"]["source"] == {"id": doc["items"][0]["id"], "type": "Annotation"}
    assert [h["target"]["selector"][0]["exact"] for h in highlights] == ["Đình", "đình"]
    assert len({h["id"] for h in highlights}) == 2
    assert "partOf" not in doc and "next" not in doc


def test_search_pages_link_to_each_other_when_results_are_many():
    results = [anno(n, "đình") for n in range(2)]
    first = search_page(URL, "dinh", results, page=0, page_size=2, total=5)
    assert first["partOf"]["total"] == 5 and first["startIndex"] == 0
    assert first["next"]["id"] == URL + "?q=dinh&page=1"
    assert first["partOf"]["last"]["id"] == URL + "?q=dinh&page=2"
    assert "prev" not in first
    last = search_page(URL, "dinh", results[:1], page=2, page_size=2, total=5)
    assert last["prev"]["id"] == URL + "?q=dinh&page=1" and "next" not in last
    assert last["startIndex"] == 4
    second = search_page(URL, "dinh", results, page=1, page_size=2, total=5)
    assert second["prev"]["id"] == URL + "?q=dinh"


def test_ignored_parameters_are_reported():
    assert ignored_parameters(["q", "user", "date", "page"]) == ["date", "user"]
    doc = search_page(URL, "a", [], total=0, ignored=["user"])
    assert doc["ignored"] == ["user"] and doc["items"] == []


def test_autocomplete_page_lists_terms_with_counts_and_search_links():
    doc = autocomplete_page(URL + "/autocomplete", URL, "đì", [("đình", 3), ("định", 1)])
    assert doc["@context"] == CONTEXT and doc["type"] == "TermPage"
    assert doc["items"][0]["value"] == "đình" and doc["items"][0]["total"] == 3
    assert doc["items"][0]["service"][0]["type"] == "SearchService2"
    assert doc["items"][0]["service"][0]["id"].startswith(URL + "?q=")
