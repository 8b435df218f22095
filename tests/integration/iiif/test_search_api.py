"""Content Search 2.0 and AutoComplete 2.0 over annotations and record metadata, for real."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from disan.cli.env import Paths
from disan.cli.nginx import write_nginx_conf
from services.iiif import annotations as service_annotations
from shared.config import ServicePorts
from tests.conftest import free_port, wait_port
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
        # a viewer on another origin can read why (CORS on errors too)
        assert answer.headers.get("Access-Control-Allow-Origin") == "*", params
    # 10 KB and 30 KB of query: our 400 query_too_long (the route's answer); over the HTTP server's
    # request-line limit (32 KB): its 414, in our format too (ADR 0066); nothing is searched
    for path in ("", "/autocomplete"):
        for size, status, code in (
            (10_240, 400, "query_too_long"),
            (30_720, 400, "query_too_long"),
            (40_960, 414, "uri_too_long"),
        ):
            answer = search(iiif, record_id, path=path, q="x" * size)
            assert answer.status_code == status, (path, size, answer.text[:200])
            assert answer.headers["Content-Type"].startswith("application/json")
            assert answer.json()["error"]["code"] == code, (path, size)
    assert search(iiif, record_id, path="/autocomplete", q="x" * 2_000).status_code == 400
    missing = search(iiif, "not-a-record", q="a")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
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


def test_long_urls_and_headers_are_refused_in_the_error_format(iiif):
    """The catalogue search too: 10/30 KB queries are 400, over 32 KB 414, a header line over
    8 KB 431; all as {"error": …} JSON, and the server keeps answering afterwards."""
    for size, status, code in (
        (10_240, 400, "query_too_long"),
        (30_720, 400, "query_too_long"),
        (40_960, 414, "uri_too_long"),
        (200_000, 414, "uri_too_long"),
    ):
        answer = iiif.request("GET", "/api/v1/records", params={"q": "dinh " * (size // 5)})
        assert answer.status_code == status, (size, answer.text[:200])
        assert answer.json()["error"]["code"] == code
        assert answer.json()["error"]["message"]
    # Vietnamese is counted as sent (percent-encoded UTF-8): 3,000 characters are 9 KB
    answer = iiif.request("GET", "/api/v1/records", params={"q": "đình " * 600})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "query_too_long"
    # just under the limit still reaches the route
    under = iiif.request("GET", "/api/v1/records", params={"q": "dinh " * 1_600})
    assert under.status_code in (200, 422) and under.json().get("error", {}).get("code") != (
        "query_too_long"
    )
    answer = iiif.request("GET", "/api/v1/records", headers={"X-Long": "y" * 10_000})
    assert answer.status_code == 431, answer.text[:200]
    assert answer.json()["error"]["code"] == "header_too_large"
    assert iiif.request("GET", "/api/v1/records", params={"q": "dinh"}).status_code == 200


@pytest.mark.skipif(shutil.which("nginx") is None, reason="Debian package nginx is not installed")
def test_through_the_front_disan_up_writes_long_queries_get_the_same_answers(
    iiif, annotated, tmp_path
):
    """`disan up`'s nginx front before the real gateway: 10 and 30 KB queries reach the gateway
    (its 400 query_too_long), longer ones are the front's 414 in the error format."""
    record_id, _, _ = annotated
    gateway_port = urlsplit(iiif.url("/")).port
    port = free_port()
    ports = ServicePorts(ops={}, http={"front": port, "gateway": gateway_port})
    p = Paths(tmp_path / "home")
    write_nginx_conf(dataclasses.replace(iiif.settings, ports=ports, bind_host="127.0.0.1"), p)
    conf = p.nginx / "nginx.conf"
    front = subprocess.Popen(
        ["nginx", "-g", "daemon off;", "-p", str(p.nginx), "-c", str(conf)],
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        for path in (f"/iiif/search/2/records/{record_id}", "/api/v1/records"):
            ok = requests.get(f"{base}{path}", params={"q": "dinh"}, timeout=10)
            assert ok.status_code == 200, (path, ok.text[:200])
            for size, status, code in (
                (10_240, 400, "query_too_long"),
                (30_720, 400, "query_too_long"),
                (40_960, 414, "uri_too_long"),
                (100_000, 414, "uri_too_long"),
            ):
                answer = requests.get(f"{base}{path}", params={"q": "x" * size}, timeout=10)
                assert answer.status_code == status, (path, size, answer.text[:200])
                assert answer.headers["Content-Type"].startswith("application/json")
                assert answer.json()["error"]["code"] == code, (path, size)
        long_header = requests.get(f"{base}/api/v1/records", headers={"X-Long": "y" * 40_000})
        assert long_header.status_code == 431
        assert long_header.json()["error"]["code"] == "header_too_large"
        gateway_header = requests.get(f"{base}/api/v1/records", headers={"X-Long": "y" * 10_000})
        assert gateway_header.status_code == 431  # through the front, the gateway's limit
        assert gateway_header.json()["error"]["code"] == "header_too_large"
    finally:
        front.terminate()
        front.wait(10)
