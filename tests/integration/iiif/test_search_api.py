"""Content Search 2.0 and AutoComplete 2.0 over annotations and record metadata, for real."""

from __future__ import annotations

import json

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from services.iiif import annotations as service_annotations
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform

pytestmark = pytest.mark.integration

SEARCH_TYPE = 'application/ld+json; profile="http://iiif.io/api/search/2/context.json"'


@pytest.fixture(scope="module")
def iiif(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


@pytest.fixture(scope="module")
def annotated(iiif):
    """A published record whose canvas carries public, private and transcription annotations."""
    record_id, canvas = iiif.published_with_image(
        400,
        300,
        title={"vi": "Đình Kiền Bái", "en": "Kiền Bái communal house"},
        description={"vi": "Ngôi đình thờ Thành hoàng làng.", "en": "Village guardian."},
    )
    token = iiif.token_for("researcher")
    key = service_annotations.canvas_key(canvas)
    base = f"/iiif/annotations/3/records/{record_id}/canvases/{key}"

    def add(text: str, visibility: str = "public", motivation: str = "commenting") -> str:
        answer = iiif.request(
            "POST",
            base,
            token=token,
            json={
                "motivation": motivation,
                "body": {"type": "TextualBody", "value": text, "language": "vi"},
                "target": f"{canvas}#xywh=10,10,50,50",
                "visibility": visibility,
            },
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    ids = {
        "stele": add("Bia đá ghi công đức xây dựng đình làng năm Cảnh Hưng"),
        "secret": add("Ghi chú riêng về đình", "private"),
        "tag": add("đình", motivation="tagging"),
    }
    lines = iiif.request(
        "POST",
        base + "/transcription",
        token=token,
        json={
            "visibility": "public",
            "lines": [{"xywh": "10,100,300,30", "text": "大越史記全書", "reading": "Đại Việt"}],
        },
    )
    assert lines.status_code == 201, lines.text
    ids["line"] = lines.json()["items"][0]["id"]
    return record_id, canvas, ids


def search(iiif, record_id, token=None, path="", **params):
    return iiif.request(
        "GET", f"/iiif/search/2/records/{record_id}{path}", token=token, params=params
    )


def test_search_ignores_diacritics_and_case_and_highlights_each_hit(iiif, annotated):
    record_id, _, ids = annotated
    answer = search(iiif, record_id, q="DINH LANG")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == SEARCH_TYPE
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    doc = answer.json()
    assert doc["@context"] == "http://iiif.io/api/search/2/context.json"
    assert doc["type"] == "AnnotationPage"
    found = [item["id"] for item in doc["items"]]
    assert ids["stele"] in found
    assert ids["secret"] not in found  # private: not for the public
    highlights = doc["annotations"][0]["items"]
    stele_hits = [
        h["target"]["selector"][0]
        for h in highlights
        if h["target"]["source"]["id"] == ids["stele"]
    ]
    assert {s["exact"] for s in stele_hits} == {"đình", "làng"}
    exact = next(s for s in stele_hits if s["exact"] == "đình")
    assert exact["prefix"].endswith("xây dựng ") and exact["suffix"].startswith(" làng")
    assert all(h["motivation"] == "highlighting" for h in highlights)


def test_the_author_finds_their_private_annotation_and_others_do_not(iiif, annotated):
    record_id, _, ids = annotated
    mine = search(iiif, record_id, token=iiif.token_for("researcher"), q="ghi chu rieng")
    assert ids["secret"] in [i["id"] for i in mine.json()["items"]]
    _, other = iiif.new_user("researcher")
    theirs = search(iiif, record_id, token=other, q="ghi chu rieng")
    assert theirs.status_code == 200 and ids["secret"] not in [
        i["id"] for i in theirs.json()["items"]
    ]


def test_metadata_and_han_nom_are_searched_too(iiif, annotated):
    record_id, _, ids = annotated
    title = search(iiif, record_id, q="kien bai").json()
    described = [i for i in title["items"] if i["motivation"] == "describing"]
    assert any(i["body"]["value"] == "Đình Kiền Bái" for i in described)
    assert all(i["target"]["type"] == "Manifest" for i in described)
    han = search(iiif, record_id, q="史記").json()
    assert [i["id"] for i in han["items"]] == [ids["line"]]
    assert han["annotations"][0]["items"][0]["target"]["selector"][0]["exact"] == "史記"


def test_motivation_filter_and_ignored_parameters(iiif, annotated):
    record_id, _, ids = annotated
    tags = search(iiif, record_id, q="dinh", motivation="tagging", user="x").json()
    assert [i["id"] for i in tags["items"]] == [ids["tag"]]
    assert tags["ignored"] == ["user"]


def test_bad_queries_are_400_and_outsiders_of_a_restricted_record_are_refused(iiif, annotated):
    record_id, _, _ = annotated
    for params in (
        {},
        {"q": ""},
        {"q": "x" * 2_000},
        {"q": "a", "motivation": "painting"},
        {"q": "a", "page": "-1"},
    ):
        answer = search(iiif, record_id, **params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["error"]["message"]
    # 10 KB of query string is over the HTTP server's request-line limit (8 KB, as nginx's):
    # refused before the application, 414; nothing is searched
    for path in ("", "/autocomplete"):
        assert search(iiif, record_id, path=path, q="x" * 10_240).status_code == 414
    assert search(iiif, record_id, path="/autocomplete", q="x" * 2_000).status_code == 400
    assert search(iiif, "not-a-record", q="a").status_code == 404
    assert search(iiif, "00000000-0000-4000-8000-000000000000", q="a").status_code == 404


def test_autocomplete_suggests_words_with_counts(iiif, annotated):
    record_id, _, _ = annotated
    answer = search(iiif, record_id, path="/autocomplete", q="DI")
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["type"] == "TermPage"
    terms = {t["value"]: t["total"] for t in doc["items"]}
    assert terms.get("đình", 0) >= 3  # stele, tag, title
    assert "ghi" not in terms
    first = doc["items"][0]
    assert first["service"][0]["id"].startswith("http")
    assert "/iiif/search/2/records/" in first["service"][0]["id"]


def test_the_manifest_advertises_the_search_service(iiif, annotated):
    record_id, _, _ = annotated

    def manifest():
        try:
            with ServiceRpcProxy("iiif", {"AMQP_URI": iiif.settings.amqp_uri}) as proxy:
                return json.loads(proxy.get_manifest(record_id)["body"])
        except RemoteError:
            return None

    doc = wait_until(manifest, timeout=15)
    services = doc.get("service", [])
    search_services = [s for s in services if s["type"] == "SearchService2"]
    assert search_services, services
    assert search_services[0]["id"].endswith(f"/iiif/search/2/records/{record_id}")
    assert search_services[0]["service"][0]["type"] == "AutoCompleteService2"
