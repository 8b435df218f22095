"""Every collection and manifest Disan serves, walked as a partner's harvester or a viewer
would (issue 15, ADR 0067): from the root collection down, and every manifest Change Discovery
says exists, fetched over HTTP from the gateway and the image server (policy mode).

None has an empty ``items``; every ``homepage``, ``seeAlso``, ``partOf``, ``rendering`` and
service link answers 200, or 401 carrying an Auth 2.0 probe for restricted content; every
language map lists ``vi`` first; every document passes the Presentation 3.0 schema. A
published record without media has no manifest: 404 ``no_content``, in no collection, never
in the stream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.presentation import presentation_errors
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform
from tests.integration.iiif.test_viewer_auth import Stack
from tests.integration.imageserver.support import ServerProcess
from tests.unit.iiif.test_manifest_rules import language_maps

pytestmark = pytest.mark.integration

SERVICE_TYPES = (
    "ImageService3",
    "ImageService2",
    "AuthProbeService2",
    "SearchService2",
    "AutoCompleteService2",
)


@pytest.fixture(scope="module")
def stack(settings: Any, test_env: dict[str, str], tmp_path_factory: Any) -> Iterator[Stack]:
    platform, stop = start_annotation_platform(settings)
    images = ServerProcess(
        test_env,
        tmp_path_factory.mktemp("walk-images"),
        DISAN_IMAGESERVER_ACCESS="policy",
        DISAN_IMAGESERVER_ACCESS_SERVICE=platform.access_name,
        DISAN_IMAGESERVER_ACCESS_CACHE_SECONDS="1",
        DISAN_IMAGESERVER_PURGE_EVENTS="false",
        DISAN_REDIS_PREFIX=platform.prefix,
    )
    images.start()
    try:
        yield Stack(platform, images)
    finally:
        images.stop()
        stop()


def _links(doc: Any) -> Iterator[tuple[str, str]]:
    """(kind, URL) of every link a document carries, at any depth."""
    if isinstance(doc, list):
        for item in doc:
            yield from _links(item)
        return
    if not isinstance(doc, dict):
        return
    for key in ("homepage", "seeAlso", "partOf", "rendering"):
        for link in doc.get(key) or []:
            yield key, link["id"]
    for service in doc.get("service") or []:
        kind = service.get("type") or service.get("@type")
        if kind in SERVICE_TYPES:
            yield kind, service.get("id") or service["@id"]
    for key, value in doc.items():
        if key not in ("homepage", "seeAlso", "partOf", "rendering"):
            yield from _links(value)


def _check_link(stack: Stack, kind: str, url: str) -> None:
    """A link answers 200, or 401 carrying a probe service for restricted content."""
    if kind.startswith("ImageService"):
        url = f"{url}/info.json"
    elif kind in ("SearchService2", "AutoCompleteService2"):
        url = f"{url}?q=a"  # a service, not a document: asked with a query
    answer = stack.fetch(url, allow_redirects=True)
    if answer.status_code == 401:
        details = answer.json().get("error", {}).get("details") or {}
        services = answer.json().get("service") or details.get("service") or []
        assert any(s.get("type") == "AuthProbeService2" for s in services) or kind.startswith(
            "ImageService"
        ), (kind, url, answer.text[:300])
        return
    assert answer.status_code == 200, (kind, url, answer.status_code, answer.text[:300])


def _vietnamese_first(doc: dict[str, Any]) -> None:
    bad = [(path, keys) for path, keys in language_maps(doc) if keys[0] != "vi"]
    assert bad == [], (doc["id"], bad[:5])


def _walk(stack: Stack, root: str) -> tuple[list[str], set[tuple[str, str]]]:
    """Every collection and manifest reachable from ``root``; the links they carry."""
    seen: set[str] = set()
    queue, manifests, links = [root], [], set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        answer = stack.fetch(url)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        doc = answer.json()
        assert presentation_errors(doc) == [], (url, presentation_errors(doc)[:3])
        assert doc["items"], f"{url} has empty items"
        _vietnamese_first(doc)
        links |= set(_links(doc))
        if doc["type"] == "Collection":
            queue += [item["id"] for item in doc["items"]]
        else:
            manifests.append(url)
    return manifests, links


def _stream(stack: Stack) -> list[dict[str, Any]]:
    top = stack.fetch(f"{stack.base}/iiif/discovery/1/all-changes").json()
    items: list[dict[str, Any]] = []
    page_url = top["first"]["id"]
    while page_url:
        page = stack.fetch(page_url).json()
        items += page["orderedItems"]
        page_url = page.get("next", {}).get("id")
    return items


def test_everything_served_is_complete_linked_and_vietnamese_first(stack: Stack) -> None:
    platform = stack.platform
    public_id, _ = platform.published_with_image(unesco={"list": "world_heritage", "year": 2023})
    restricted_id, _ = platform.published_with_image()
    platform.set_policy("record", restricted_id, level="restricted", reason="fragile")
    empty_id = str(platform.create(record_body())["id"])
    platform.publish(empty_id)

    def settled() -> bool:
        rows = platform.iiif_sql(
            "SELECT public FROM manifests WHERE record_id = CAST(:r AS uuid)", r=restricted_id
        )
        states = platform.iiif_sql(
            "SELECT state FROM records WHERE record_id = CAST(:r AS uuid)", r=empty_id
        )
        return bool(rows) and rows[0][0] is False and states == [("published",)]

    wait_until(settled, timeout=15)
    time.sleep(1.5)  # the gateway's and the image server's policy caches

    manifests, links = _walk(stack, f"{stack.base}/iiif/presentation/3/collections/all")
    public_url = f"{stack.base}/iiif/presentation/3/records/{public_id}/manifest"
    empty_url = f"{stack.base}/iiif/presentation/3/records/{empty_id}/manifest"
    assert public_url in manifests
    assert empty_url not in manifests
    root = stack.fetch(f"{stack.base}/iiif/presentation/3/collections/all").json()
    children = {i["id"].rsplit("/", 1)[1] for i in root["items"] if i["type"] == "Collection"}
    assert {"class-tangible-site", "ranks", "districts", "unesco"} <= children

    # every manifest the stream says exists, restricted ones too (anonymous: 401 with a probe)
    last: dict[str, dict[str, Any]] = {}
    for activity in _stream(stack):
        last[activity["object"]["id"]] = activity
    assert empty_url not in last
    for url, activity in last.items():
        if activity["type"] == "Delete":
            continue
        answer = stack.fetch(url)
        if answer.status_code == 401:
            assert activity["object"]["type"] == "Manifest", url
            services = answer.json()["error"]["details"]["service"]
            assert services[0]["type"] == "AuthProbeService2", url
            continue
        assert answer.status_code == 200, (url, answer.status_code)
        doc = answer.json()
        assert doc["items"], f"{url} has empty items"
        _vietnamese_first(doc)
        links |= set(_links(doc))

    kinds = {kind for kind, _ in links}
    assert {"seeAlso", "partOf", "ImageService3", "ImageService2", "SearchService2"} <= kinds
    # the portal serves no page yet (ADR 0067): no homepage that would answer 404
    assert "homepage" not in kinds
    for kind, url in sorted(links):
        _check_link(stack, kind, url)

    # the record without media: a clear 404, and the reason
    answer = platform.request("GET", f"/iiif/presentation/3/records/{empty_id}/manifest")
    assert answer.status_code == 404, answer.text
    details = answer.json()["error"]["details"]
    assert details["reason"] == "no_content" and list(details["text"]) == ["vi", "en"]
    # nor does its linked data name that manifest or a collection
    ld = platform.request("GET", f"/api/v1/records/{empty_id}/jsonld").json()
    assert "dcterms:hasFormat" not in ld and "dcterms:isPartOf" not in ld
    ld = platform.request("GET", f"/api/v1/records/{public_id}/jsonld").json()
    assert ld["dcterms:hasFormat"] == [{"@id": public_url}]
