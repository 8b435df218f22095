"""A restricted record as an IIIF Auth 2.0 viewer meets it, across the real pieces: catalogue,
media (S3), iiif, access and the gateway as nameko containers over RabbitMQ, PostgreSQL and
Redis, and the image server as its own process in policy mode (ADR 0035).

Also the surfaces a viewer on another site uses: CORS preflights of the annotation, search
and API routes, and the Change Discovery media type and activity ids (issue 15).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.access.conftest import PASSWORD
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import (
    AnnotationPlatform,
    start_annotation_platform,
)
from tests.integration.imageserver.support import ServerProcess

pytestmark = pytest.mark.integration

DISCOVERY = 'application/ld+json;profile="http://iiif.io/api/discovery/1/context.json"'


@dataclasses.dataclass
class Stack:
    platform: AnnotationPlatform
    images: ServerProcess

    @property
    def base(self) -> str:
        return str(self.platform.settings.public_url).rstrip("/")

    def fetch(self, url: str, token: str | None = None, **kw: Any) -> requests.Response:
        """GET a public URL the way the front routes it: images to the image server, the
        rest to the gateway."""
        assert url.startswith(self.base + "/"), url
        path = url[len(self.base) :]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if path.startswith("/iiif/image/"):
            return requests.get(f"{self.images.url}{path}", headers=headers, timeout=30, **kw)
        return self.platform.request("GET", path, token=token, **kw)


@pytest.fixture(scope="module")
def stack(settings: Any, test_env: dict[str, str], tmp_path_factory: Any) -> Iterator[Stack]:
    platform, stop = start_annotation_platform(settings)
    images = ServerProcess(
        test_env,
        tmp_path_factory.mktemp("viewer-images"),
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


def _services(resource: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in resource.get("service", []) if s.get("type") == kind]


def _login_and_token(stack: Stack, access: dict[str, Any], origin: str) -> str:
    """What the viewer's user does in the access service's window, then what the viewer
    does in its hidden iframe: the AuthAccessToken2 posted to ``origin``."""
    assert access["type"] == "AuthAccessService2" and access["profile"] == "active"
    browser = requests.Session()
    page = browser.get(f"{stack.platform.url(urlsplit(access['id']).path)}?origin={origin}")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    stack.platform.token_for("researcher")
    done = browser.post(
        stack.platform.url(urlsplit(access["id"]).path),
        data={
            "csrf": csrf.group(1),
            "username": stack.platform.users["researcher"]["username"],
            "password": PASSWORD,
        },
    )
    assert done.status_code == 200, done.text
    (token_service,) = _services(access, "AuthAccessTokenService2")
    answer = browser.get(
        stack.platform.url(urlsplit(token_service["id"]).path),
        params={"messageId": "viewer-1", "origin": origin},
    )
    call = re.search(r"window\.parent\.postMessage\((.*), (\"[^\"]*\")\);", answer.text)
    assert call is not None, answer.text
    message, target = json.loads(call.group(1)), json.loads(call.group(2))
    assert target == origin and message["type"] == "AuthAccessToken2", message
    assert message["messageId"] == "viewer-1"
    return str(message["accessToken"])


def _probe(stack: Stack, probe: dict[str, Any], token: str | None = None) -> int:
    answer = stack.fetch(probe["id"], token)
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    result = answer.json()
    assert result["type"] == "AuthProbeResult2", result
    return int(result["status"])


def _restricted_record(stack: Stack) -> tuple[str, str]:
    platform = stack.platform
    record_id, canvas = platform.published_with_image(width=320, height=200)
    platform.set_policy("record", record_id, level="restricted", reason="fragile manuscript")

    def restricted_built() -> bool:
        rows = platform.iiif_sql(
            "SELECT public FROM manifests WHERE record_id = CAST(:r AS uuid)", r=record_id
        )
        return bool(rows) and rows[0][0] is False

    wait_until(restricted_built, timeout=10)
    time.sleep(1.5)  # the gateway's and the image server's policy caches
    return record_id, canvas


def test_a_viewer_gets_into_a_restricted_record_through_auth_2(stack: Stack) -> None:
    record_id, canvas_id = _restricted_record(stack)
    manifest_url = f"{stack.base}/iiif/presentation/3/records/{record_id}/manifest"
    origin = f"{urlsplit(stack.base).scheme}://{urlsplit(stack.base).netloc}"

    # 1. anonymous: the manifest is refused, but the refusal carries the record's probe service
    refused = stack.fetch(manifest_url)
    assert refused.status_code == 401, refused.text
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    (record_probe,) = refused.json()["error"]["details"]["service"]
    assert record_probe["type"] == "AuthProbeService2"
    assert record_probe["id"] == f"{stack.base}/iiif/auth/2/probe/record/{record_id}"
    (access,) = _services(record_probe, "AuthAccessService2")
    assert access["label"]["vi"] and list(access["label"])[0] == "vi"

    # 2. the probe says 401; the user logs in through the access service; the token service
    # gives the viewer a token, with which the probe says 200
    assert _probe(stack, record_probe) == 401
    token = _login_and_token(stack, access, origin)
    assert _probe(stack, record_probe, token) == 200

    # 3. with the token the manifest opens; its image and thumbnails carry their probes
    manifest = stack.fetch(manifest_url, token)
    assert manifest.status_code == 200, manifest.text
    doc = manifest.json()
    (canvas,) = [c for c in doc["items"] if c["id"] == canvas_id]
    body = canvas["items"][0]["items"][0]["body"]
    thumbnails = [canvas["thumbnail"][0], doc["thumbnail"][0]]
    for resource in (body, *thumbnails):
        (probe,) = _services(resource, "AuthProbeService2")
        assert _services(probe, "AuthAccessService2")[0]["id"] == access["id"]
        assert _probe(stack, probe) == 401
        assert _probe(stack, probe, token) == 200

    # 4. the images load with the token, and only with it
    for url in (thumbnails[0]["id"], f"{body['service'][0]['id']}/full/64,/0/default.jpg"):
        assert stack.fetch(url).status_code == 401
        image = stack.fetch(url, token)
        assert image.status_code == 200, image.text
        assert image.content[:3] == b"\xff\xd8\xff"


def test_a_signed_in_user_without_the_right_gets_403_with_the_probe_too(stack: Stack) -> None:
    record_id, _ = _restricted_record(stack)
    path = f"/iiif/presentation/3/records/{record_id}/manifest"
    refused = stack.platform.request("GET", path, token=stack.platform.token_for("partner"))
    assert refused.status_code == 403
    (probe,) = refused.json()["error"]["details"]["service"]
    assert probe["type"] == "AuthProbeService2" and probe["id"].endswith(f"/record/{record_id}")


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/iiif/annotations/3/records/{record}", "POST", "authorization, content-type"),
        ("/iiif/annotations/3/{annotation}", "PUT", "authorization, if-match, content-type"),
        ("/iiif/search/2/records/{record}", "GET", "authorization"),
        ("/api/v1/records", "GET", "authorization"),
        ("/api/v1/records/{record}", "GET", "x-api-key"),
    ],
)
def test_every_iiif_and_api_surface_answers_preflights(
    stack: Stack, path: str, method: str, headers: str
) -> None:
    url = path.format(record=uuid.uuid4(), annotation=uuid.uuid4())
    answer = stack.platform.request(
        "OPTIONS",
        url,
        headers={
            "Origin": "https://museum.example",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )
    assert answer.status_code == 204, (url, answer.status_code, answer.text)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert method in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == headers
    # and the answer itself is readable cross-site, refusals included
    real = stack.platform.request("GET", url)
    assert real.headers["Access-Control-Allow-Origin"] == "*", url


def test_change_discovery_has_its_media_type_and_activity_ids(stack: Stack) -> None:
    stack.platform.published_with_image(width=64, height=48)
    top = stack.platform.request("GET", "/iiif/discovery/1/all-changes")
    assert top.status_code == 200
    assert top.headers["Content-Type"] == DISCOVERY
    last = top.json()["last"]["id"]
    page = stack.fetch(last)
    assert page.headers["Content-Type"] == DISCOVERY
    items = page.json()["orderedItems"]
    assert items
    stream = f"{stack.base}/iiif/discovery/1/all-changes/activity/"
    ids = [item["id"] for item in items]
    assert all(i.startswith(stream) and i[len(stream) :].isdigit() for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert stack.fetch(last).json()["orderedItems"][0]["id"] == ids[0]  # stable


def test_a_forged_host_never_reaches_the_gateways_iiif_urls(stack: Stack) -> None:
    """Issue #14 at the gateway: every IIIF document is built from DISAN_PUBLIC_URL (stored
    built by the iiif service), so forged Host/X-Forwarded-Host headers change no id."""
    record_id, _ = stack.platform.published_with_image(width=64, height=48)
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    for path in (
        f"/iiif/presentation/3/records/{record_id}/manifest",
        "/iiif/presentation/3/collections/all",
        "/iiif/discovery/1/all-changes",
        f"/iiif/annotations/3/records/{record_id}",
        f"/iiif/search/2/records/{record_id}?q=x",
    ):
        answer = stack.platform.request("GET", path, headers=forged)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        assert "evil.example" not in answer.text, path
        assert stack.base in answer.text, path
