"""Manifests, collections and Change Discovery across the real pieces: a record published
through the gateway (catalogue), an image uploaded (media, S3), events to the iiif service,
documents read back through the gateway over HTTP and checked against the IIIF schema.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.conformance.presentation import presentation_errors
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform

pytestmark = pytest.mark.integration

PRESENTATION = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'


@pytest.fixture(scope="module")
def platform(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


def manifest_path(record_id: str) -> str:
    return f"/iiif/presentation/3/records/{record_id}/manifest"


def changes(platform) -> list[dict]:
    top = platform.request("GET", "/iiif/discovery/1/all-changes")
    assert top.status_code == 200, top.text
    items: list[dict] = []
    page_url = top.json()["first"]["id"]
    while page_url:
        path = page_url.split("/iiif/", 1)[1]
        page = platform.request("GET", f"/iiif/{path}").json()
        items += page["orderedItems"]
        page_url = page.get("next", {}).get("id")
    return items


def valid(doc: dict) -> None:
    errors = presentation_errors(doc)
    assert not errors, errors[:5]


def test_publishing_shows_the_manifest_in_collections_and_discovery_within_5_seconds(platform):
    record_id, canvas = platform.published_with_image(width=320, height=200)
    # published_with_image returned when the canvas existed; the clock starts at publication
    # in the next test; here: what is served
    answer = platform.request("GET", manifest_path(record_id))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == PRESENTATION
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    doc = answer.json()
    valid(doc)
    assert doc["items"][0]["id"] == canvas
    assert (doc["items"][0]["width"], doc["items"][0]["height"]) == (320, 200)
    body = doc["items"][0]["items"][0]["items"][0]["body"]
    assert {s.get("type") or s.get("@type") for s in body["service"]} >= {
        "ImageService3",
        "ImageService2",
    }
    etag = answer.headers["ETag"]
    again = platform.request("GET", manifest_path(record_id), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert again.content == b""


def test_publish_then_withdraw_within_5_seconds(platform):
    from tests.integration.catalogue.conftest import record_body
    from tests.integration.media.support import png

    record = platform.create(record_body(unesco={"list": "world_heritage", "year": 2023}))
    record_id = record["id"]
    assert platform.request("GET", manifest_path(record_id)).status_code == 404
    # a record with nothing to show has no manifest (ADR 0067): its first image makes one
    upload = platform.upload(record_id, png(64, 48), "front.png")
    assert upload.status_code == 202, upload.text
    assert platform.wait_done(upload.json()["asset_id"])["status"] == "ready"
    started = time.monotonic()
    platform.publish(record_id)
    url = f"{platform.settings.public_url.rstrip('/')}{manifest_path(record_id)}"

    def in_everything() -> bool:
        if platform.request("GET", manifest_path(record_id)).status_code != 200:
            return False
        listed = platform.request("GET", "/iiif/presentation/3/collections/unesco").json()
        if url not in {i["id"] for i in listed.get("items", [])}:
            return False
        return any(a["object"]["id"] == url and a["type"] == "Create" for a in changes(platform))

    wait_until(in_everything, timeout=5)
    assert time.monotonic() - started < 5
    for name in ("all", "class-tangible-site", "rank-city", "district-le-chan", "unesco"):
        listed = platform.request("GET", f"/iiif/presentation/3/collections/{name}")
        assert listed.status_code == 200, (name, listed.text)
        valid(listed.json())
        assert url in {i["id"] for i in listed.json()["items"]}, name
    # the names of before the one naming style move permanently (ADR 0067)
    for old, new in (
        ("class-tangible_site", "class-tangible-site"),
        ("district-le_chan", "district-le-chan"),
    ):
        moved = platform.request(
            "GET", f"/iiif/presentation/3/collections/{old}", allow_redirects=False
        )
        assert moved.status_code == 301, (old, moved.status_code)
        assert moved.headers["Location"].endswith(f"/iiif/presentation/3/collections/{new}")
        assert moved.headers["Access-Control-Allow-Origin"] == "*"
    doc = platform.request("GET", manifest_path(record_id)).json()
    assert f"{platform.settings.public_url.rstrip('/')}/iiif/presentation/3/collections/unesco" in {
        p["id"] for p in doc["partOf"]
    }
    shown = {m["label"]["en"][0]: m["value"]["vi"][0] for m in doc["metadata"]}
    assert shown["Rank"].startswith("Di tích cấp thành phố"), shown  # catalogue vocabulary
    published = platform.iiif_outbox("iiif.manifest_published")
    assert any(e["data"]["record_id"] == record_id for e in published)

    started = time.monotonic()
    answer = platform.move(record_id, "withdraw", "reviewer", "wrong attribution")
    assert answer.status_code == 200, answer.text

    def gone() -> bool:
        if platform.request("GET", manifest_path(record_id)).status_code != 404:
            return False
        return any(a["object"]["id"] == url and a["type"] == "Delete" for a in changes(platform))

    wait_until(gone, timeout=5)
    assert time.monotonic() - started < 5
    listed = platform.request("GET", "/iiif/presentation/3/collections/all").json()
    assert url not in {i["id"] for i in listed["items"]}
    stream = [a for a in changes(platform) if a["object"]["id"] == url]
    assert [a["type"] for a in stream][0] == "Create" and stream[-1]["type"] == "Delete"
    removed = platform.iiif_outbox("iiif.manifest_removed")
    assert any(e["data"]["record_id"] == record_id for e in removed)


def test_restricted_record_is_401_anonymous_403_partner_200_researcher(platform):
    record_id, _ = platform.published_with_image()
    platform.set_policy("record", record_id, level="restricted", reason="fragile manuscript")

    def restricted_built() -> bool:
        rows = platform.iiif_sql(
            "SELECT public FROM manifests WHERE record_id = CAST(:r AS uuid)", r=record_id
        )
        return bool(rows) and rows[0][0] is False

    wait_until(restricted_built, timeout=10)
    time.sleep(1.0)  # the gateway's policy cache (0.5 s in tests)
    anonymous = platform.request("GET", manifest_path(record_id))
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["Access-Control-Allow-Origin"] == "*"
    partner = platform.request("GET", manifest_path(record_id), token=platform.token_for("partner"))
    assert partner.status_code == 403
    researcher = platform.request(
        "GET", manifest_path(record_id), token=platform.token_for("researcher")
    )
    assert researcher.status_code == 200
    assert researcher.headers["Cache-Control"].startswith("private")
    doc = researcher.json()
    valid(doc)
    body = doc["items"][0]["items"][0]["items"][0]["body"]
    assert any(s.get("type") == "AuthProbeService2" for s in body["service"]), body["service"]


def test_bad_input_is_a_clear_4xx_with_cors(platform):
    cases = [
        (manifest_path("not-a-uuid"), 404),
        (manifest_path(str(uuid.uuid4())), 404),
        ("/iiif/presentation/3/collections/..%2Fetc", 404),
        ("/iiif/presentation/3/collections/rank-" + "x" * 500, 404),
        ("/iiif/presentation/3/collections/all/page/0", 400),
        ("/iiif/presentation/3/collections/all/page/99999", 404),
        ("/iiif/discovery/1/all-changes/page/999999", 404),
    ]
    for path, status in cases:
        answer = platform.request("GET", path)
        assert answer.status_code == status, (path, answer.status_code, answer.text)
        assert answer.headers["Access-Control-Allow-Origin"] == "*", path
        assert answer.json()["error"]["code"], path
    bad_token = platform.request("GET", manifest_path(str(uuid.uuid4())), token="nope")
    assert bad_token.status_code == 401
    assert bad_token.headers["Access-Control-Allow-Origin"] == "*"
    preflight = platform.request(
        "OPTIONS",
        "/iiif/presentation/3/collections/all",
        headers={"Origin": "https://viewer.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_an_outsider_cannot_rebuild_manifests_over_http(platform):
    # rebuilding is an RPC only (no HTTP route): nothing under /iiif or /api answers to it
    for method, path in (
        ("POST", "/iiif/presentation/3/rebuild"),
        ("POST", "/iiif/presentation/3/records/x/manifest"),
        ("DELETE", "/iiif/discovery/1/all-changes"),
    ):
        answer = platform.request(method, path)
        assert answer.status_code in (404, 405), (method, path, answer.status_code)


def test_content_resources_redirect_to_the_file_for_published_records_only(platform):
    record_id, canvas = platform.published_with_image(width=500, height=300)
    asset_id = canvas.rsplit("/", 1)[1]

    def content() -> requests.Response:
        return platform.request(
            "GET", f"/iiif/content/{asset_id}/thumbnail.jpg", allow_redirects=False
        )

    # the images of a draft record were staff only (ADR 0034): the public sees them once the
    # access service has the record as published (a moment after its manifest, perhaps)
    answer = wait_until(lambda: (a := content()).status_code == 302 and a, timeout=10)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    thumbnail = platform.request("GET", f"/iiif/content/{asset_id}/thumbnail.jpg")
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"
    original = platform.request("GET", f"/iiif/content/{asset_id}/original.png")
    assert original.status_code == 200 and original.content[:8] == b"\x89PNG\r\n\x1a\n"
    for path in (
        f"/iiif/content/{asset_id}/../../masters/x",
        f"/iiif/content/{asset_id}/pages/1.jpg",
        f"/iiif/content/{asset_id}/secret.txt",
        f"/iiif/content/{uuid.uuid4()}/thumbnail.jpg",
        "/iiif/content/not-an-id/thumbnail.jpg",
    ):
        refused = platform.request("GET", path, allow_redirects=False)
        assert refused.status_code == 404, (path, refused.status_code)
    assert platform.move(record_id, "withdraw", "reviewer", "test").status_code == 200
    wait_until(
        lambda: (
            platform.request(
                "GET", f"/iiif/content/{asset_id}/thumbnail.jpg", allow_redirects=False
            ).status_code
            == 404
        ),
        timeout=5,
    )


def _pdf(sizes: list[tuple[int, int]]) -> bytes:
    import io

    from PIL import Image

    pages = [Image.new("RGB", size, (200, 180, 150)) for size in sizes]
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=72)
    return out.getvalue()


def test_a_pdf_is_one_canvas_per_page_with_the_page_sizes_from_ingest(platform):
    from tests.integration.catalogue.conftest import record_body

    body = record_body(
        heritage_class="documentary",
        heritage_type=None,
        rank=None,
        documentary={"scripts": ["han_nom"]},
    )
    record_id = platform.create(body)["id"]
    answer = platform.upload(record_id, _pdf([(300, 400), (400, 300)]), "sac-phong.pdf")
    assert answer.status_code == 202, answer.text
    asset_id = answer.json()["asset_id"]
    assert platform.wait_done(asset_id)["status"] == "ready"
    platform.publish(record_id)

    def two_canvases():
        found = platform.request("GET", manifest_path(record_id))
        return found.json() if found.status_code == 200 and found.json()["items"] else None

    doc = wait_until(two_canvases, timeout=30)
    valid(doc)
    sizes = [(c["width"], c["height"]) for c in doc["items"]]
    assert len(sizes) == 2 and sizes[0][0] < sizes[0][1] and sizes[1][0] > sizes[1][1]
    assert [c["id"].rsplit("/", 1)[1] for c in doc["items"]] == ["p1", "p2"]
    assert doc["structures"][0]["items"] == [
        {"id": c["id"], "type": "Canvas"} for c in doc["items"]
    ]
    assert doc["rendering"][0]["format"] == "application/pdf"
    page = doc["items"][1]["items"][0]["items"][0]["body"]["id"].split("/iiif/", 1)[1]
    # a draft's images are staff only (ADR 0034): open once the access service has the record
    # as published, which may come a moment after its manifest
    image = wait_until(lambda: (a := platform.request("GET", f"/iiif/{page}")).ok and a)
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"


def test_a_restricted_image_of_a_public_record_carries_the_probe_service(platform):
    record_id, canvas = platform.published_with_image()
    asset_id = canvas.rsplit("/", 1)[1]
    platform.set_policy("asset", asset_id, level="restricted", reason="donor's wish")

    def probed():
        found = platform.request("GET", manifest_path(record_id))
        assert found.status_code == 200  # the record stays public
        body = found.json()["items"][0]["items"][0]["items"][0]["body"]
        return any(s.get("type") == "AuthProbeService2" for s in body.get("service", []))

    wait_until(probed, timeout=10)


def test_an_embargo_ending_makes_the_manifest_public_without_any_event(platform):
    from datetime import UTC, datetime, timedelta

    record_id, _ = platform.published_with_image()
    until = datetime.now(UTC) + timedelta(seconds=6)
    platform.set_policy(
        "record",
        record_id,
        level="embargoed",
        embargo_until=until.isoformat(),
        reason="until opening",
    )

    def built(public: bool) -> bool:
        rows = platform.iiif_sql(
            "SELECT public FROM manifests WHERE record_id = CAST(:r AS uuid)", r=record_id
        )
        return bool(rows) and rows[0][0] is public

    wait_until(lambda: built(False), timeout=10)
    assert platform.request("GET", manifest_path(record_id)).status_code == 401
    staff = platform.token_for("reviewer")
    restricted = platform.request("GET", manifest_path(record_id), token=staff)
    assert restricted.status_code == 200, restricted.text
    assert restricted.headers["Cache-Control"].startswith("private")
    body = restricted.json()["items"][0]["items"][0]["items"][0]["body"]
    assert any(s.get("type") == "AuthProbeService2" for s in body["service"])
    url = f"{platform.settings.public_url.rstrip('/')}{manifest_path(record_id)}"
    seen = sum(1 for a in changes(platform) if a["object"]["id"] == url)
    events = len(platform.iiif_outbox("iiif.manifest_published"))
    # no policy, record or media event from now on: only the clock
    wait_until(lambda: built(True), timeout=20)
    assert datetime.now(UTC) >= until
    opened = platform.request("GET", manifest_path(record_id))
    assert opened.status_code == 200, opened.text
    assert opened.headers["Cache-Control"].startswith("public")
    doc = opened.json()
    valid(doc)
    body = doc["items"][0]["items"][0]["items"][0]["body"]
    assert not any(s.get("type") == "AuthProbeService2" for s in body["service"])
    stream = [a for a in changes(platform) if a["object"]["id"] == url]
    assert len(stream) == seen + 1 and stream[-1]["type"] == "Update"
    assert len(platform.iiif_outbox("iiif.manifest_published")) == events + 1


def test_see_also_links_resolve_to_the_records_dublin_core_under_its_access_rules(platform):
    import xml.etree.ElementTree as ET

    record_id, _ = platform.published_with_image()
    doc = platform.request("GET", manifest_path(record_id)).json()
    valid(doc)
    base = platform.settings.public_url.rstrip("/")
    links = {s["format"]: s for s in doc["seeAlso"]}
    assert set(links) >= {"application/ld+json", "application/xml", "application/json"}
    title = platform.request("GET", f"/api/v1/records/{record_id}").json()["title"]

    def fetch(link: dict, token: str | None = None):
        assert link["id"].startswith(base), link
        return platform.request("GET", link["id"][len(base) :], token=token)

    answer = fetch(links["application/ld+json"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/ld+json")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    ld = json.loads(answer.content)
    assert ld["@id"] == f"{base}/api/v1/records/{record_id}"  # answers (ADR 0067)
    assert {t["@language"]: t["@value"] for t in ld["dcterms:title"]} == title
    assert {"@id": f"{base}{manifest_path(record_id)}"} in ld["dcterms:hasFormat"]
    answer = fetch(links["application/xml"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(answer.content)
    dc = "{http://purl.org/dc/elements/1.1/}"
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert {t.get(lang): t.text for t in root.findall(f"{dc}title")} == title
    assert fetch(links["application/json"]).json()["title"] == title

    # restricted: each rendering answers as the record does, for each caller
    platform.set_policy("record", record_id, level="restricted", reason="fragile")
    time.sleep(1.0)  # the gateway's policy cache (0.5 s in tests)
    partner = platform.token_for("partner")
    for token, status in ((None, 401), (partner, 403), (platform.token_for("researcher"), 200)):
        record = platform.request("GET", f"/api/v1/records/{record_id}", token=token)
        assert record.status_code == status, record.text
        for link in links.values():
            answer = fetch(link, token)
            assert answer.status_code == status, (link["id"], answer.text)
            if status != 200:
                assert answer.json()["error"]["code"] == record.json()["error"]["code"]
    # a draft is 404 for the public, readable by staff
    from tests.integration.catalogue.conftest import record_body

    draft = platform.create(record_body())["id"]
    for path in (f"/api/v1/records/{draft}/jsonld", f"/api/v1/records/{draft}/dc.xml"):
        assert platform.request("GET", path).status_code == 404
        staff = platform.request("GET", path, token=platform.token_for("cataloguer"))
        assert staff.status_code == 200, staff.text
    ld = platform.request(
        "GET", f"/api/v1/records/{draft}/jsonld", token=platform.token_for("reviewer")
    )
    assert "dcterms:hasFormat" not in ld.json()
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        answer = platform.request("GET", f"/api/v1/records/{bad}/dc.xml")
        assert answer.status_code in (400, 404) and answer.json()["error"]["code"]
