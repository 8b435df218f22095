"""IIIF Authorization Flow 2.0 across the real pieces: the access service and the gateway (nameko
containers on RabbitMQ, PostgreSQL, Redis), and the image server as its own process reading a
pyramid from S3. A restricted asset: 401 without credentials, 403 for a role that may not see
it, 200 for one that may; the probe agrees; the login page sets the session cookie; the token
service posts tokens only to allowed origins; logout revokes the cookie and its tokens."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import pyvips
import requests

from shared.bus import ConfirmingPublisher
from shared.events import make_event
from shared.outbox import to_outgoing
from tests.integration.access.conftest import PASSWORD, Platform, start_platform
from tests.integration.conftest import wait_until
from tests.integration.imageserver.support import ServerProcess, upload_pyramid, write_pyramid

pytestmark = pytest.mark.integration

VIEWER = "https://viewer.example.org"
TILE = "/full/64,/0/default.jpg"


@dataclasses.dataclass
class Stack:
    platform: Platform
    images: ServerProcess
    restricted: str
    public: str

    def image(self, asset: str, path: str = TILE, **headers: str) -> requests.Response:
        return requests.get(f"{self.images.url}/iiif/image/3/{asset}{path}", headers=headers)

    def probe(self, asset: str, token: str | None = None) -> requests.Response:
        return self.platform.request("GET", f"/iiif/auth/2/probe/asset/{asset}", token=token)

    def user(self, role: str) -> str:
        self.platform.token_for(role)
        return str(self.platform.users[role]["username"])

    def set_policy(self, kind: str, resource_id: str, level: str) -> None:
        self.platform.set_policy(kind, resource_id, "cataloguer", level=level)

    def new_asset(self) -> str:
        asset = str(uuid.uuid4())
        pyramid = write_pyramid(
            pyvips.Image.xyz(300, 200)[1].cast("uchar"), self.images.log.with_name(f"{asset}.tif")
        )
        upload_pyramid(self.platform.settings, asset, pyramid)
        return asset

    def announce(
        self, event_type: str, data: dict[str, Any], times: int = 1, producer: str = "media"
    ) -> None:
        """An event on the bus, as a service's outbox relay sends it (``times`` > 1: the same
        event redelivered)."""
        publisher = ConfirmingPublisher(self.platform.settings.amqp_uri)
        try:
            with publisher.lock:
                event = make_event(event_type, data, producer=producer)
                publisher.publish([to_outgoing(event.to_dict()) for _ in range(times)])
        finally:
            publisher.close()

    def ingest(self, asset: str, record: str, times: int = 1) -> None:
        self.announce(
            "media.asset_ingested",
            {
                "asset_id": asset,
                "record_id": record,
                "format": "tiff",
                "kind": "image",
                "size": 1234,
                "sha256": "0" * 64,
                "master_key": f"assets/{asset}/original.tif",
            },
            times,
        )

    def record_event(self, event_type: str, record: str, state: str, version: int) -> None:
        """A catalogue.record_* event, as the catalogue announces a workflow step."""
        data: dict[str, Any] = {
            "record_id": record,
            "inventory_number": "HP-1",
            "heritage_class": "documentary",
            "version": version,
            "state": state,
            "title": {"vi": "Sắc phong", "en": "Royal decree"},
        }
        if event_type in ("catalogue.record_published", "catalogue.record_withdrawn"):
            data["comment"] = ""
        self.announce(event_type, data, producer="catalogue")

    def policy(self, asset: str) -> dict[str, Any]:
        with self.platform.rpc() as access:
            return dict(access.get_policy("asset", asset))


@pytest.fixture(scope="module")
def stack(settings: Any, test_env: dict[str, str], tmp_path_factory: Any) -> Iterator[Stack]:
    extra = {**settings.extra, "iiif_auth": {"origins": [VIEWER]}}
    platform, stop = start_platform(dataclasses.replace(settings, extra=extra))
    folder = tmp_path_factory.mktemp("auth-pyramids")
    restricted, public = str(uuid.uuid4()), str(uuid.uuid4())
    pyramid = write_pyramid(pyvips.Image.xyz(600, 400)[0].cast("uchar"), folder / "p.tif")
    for asset in (restricted, public):
        upload_pyramid(settings, asset, pyramid)
    platform.set_policy(
        "asset", restricted, "cataloguer", level="restricted", reason="living persons"
    )
    images = ServerProcess(
        test_env,
        folder / "cache",
        DISAN_IMAGESERVER_ACCESS="policy",
        DISAN_IMAGESERVER_ACCESS_SERVICE=platform.access_name,
        DISAN_IMAGESERVER_ACCESS_CACHE_SECONDS="1",
        DISAN_REDIS_PREFIX=platform.prefix,
    )
    images.start()
    try:
        yield Stack(platform, images, restricted, public)
    finally:
        images.stop()
        stop()


def _login(stack: Stack, role: str) -> requests.Session:
    """A browser that logged in through the access service's page."""
    browser = requests.Session()
    page = browser.get(stack.platform.url(f"/iiif/auth/2/access?origin={VIEWER}"))
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = browser.post(
        stack.platform.url("/iiif/auth/2/access"),
        data={"csrf": csrf.group(1), "username": stack.user(role), "password": PASSWORD},
    )
    assert done.status_code == 200, done.text
    assert browser.cookies.get("disan_iiif", path="/iiif")
    return browser


def _message(page: requests.Response) -> tuple[dict[str, Any], str]:
    """What the token service's page posts, and to which origin."""
    call = re.search(r"window\.parent\.postMessage\((.*), (\"[^\"]*\")\);", page.text)
    assert call is not None, page.text
    return json.loads(call.group(1)), json.loads(call.group(2))


def _token(browser: requests.Session, stack: Stack, origin: str = VIEWER) -> requests.Response:
    return browser.get(
        stack.platform.url("/iiif/auth/2/token"), params={"messageId": "m-1", "origin": origin}
    )


def _probe_id(stack: Stack, asset: str) -> str:
    base = stack.platform.settings.public_url.rstrip("/")
    return f"{base}/iiif/auth/2/probe/asset/{asset}"


# the image server ------------------------------------------------------------------------------
def test_restricted_tile_is_401_without_credentials_with_the_probe_service(stack: Stack) -> None:
    answer = stack.image(stack.restricted)
    assert answer.status_code == 401, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    (probe,) = answer.json()["error"]["details"]["service"]
    assert probe["type"] == "AuthProbeService2"
    assert probe["id"] == _probe_id(stack, stack.restricted)
    assert probe["service"][0]["profile"] == "active"


def test_restricted_tile_is_403_for_another_role_and_200_for_a_researcher(stack: Stack) -> None:
    partner = stack.platform.token_for("partner")
    denied = stack.image(stack.restricted, Authorization=f"Bearer {partner}")
    assert denied.status_code == 403, denied.text
    assert denied.headers["Access-Control-Allow-Origin"] == "*"
    researcher = stack.platform.token_for("researcher")
    allowed = stack.image(stack.restricted, Authorization=f"Bearer {researcher}")
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Content-Type"] == "image/jpeg"
    assert allowed.headers["Cache-Control"].startswith("private")
    # the tile is in the tile cache now; it is still refused to everyone else
    assert stack.image(stack.restricted).status_code == 401
    assert stack.image(stack.restricted, Authorization="Bearer not-a-token").status_code == 401
    assert stack.image(stack.restricted, Authorization=f"Bearer {partner}").status_code == 403


def test_a_partner_key_and_a_revoked_key_get_no_pixel_of_a_restricted_image(stack: Stack) -> None:
    """Thumbnails and tiles follow the record route for API keys too (issue 14): a partner
    key, a revoked key and no credentials get a refusal, never an image."""
    admin = stack.platform.token_for("admin")
    partner = stack.platform.new_key(name="Đối tác ảnh", roles=["partner"])
    revoked = stack.platform.new_key(name="Đối tác ảnh đã thu hồi", roles=["partner"])
    gone = stack.platform.request("DELETE", f"/api/v1/apikeys/{revoked['id']}", token=admin)
    assert gone.status_code in (200, 204), gone.text
    for path in (TILE, "/full/max/0/default.jpg", "/0,0,100,100/50,/0/default.png"):
        for headers in ({}, {"X-API-Key": partner["key"]}, {"X-API-Key": revoked["key"]}):
            answer = stack.image(stack.restricted, path, **headers)
            assert answer.status_code in (401, 403), (path, headers, answer.status_code)
            assert not answer.headers["Content-Type"].startswith("image/"), (path, headers)
    # the same key reads a public image: the refusal is the policy's, not the key's
    public = stack.image(stack.public, **{"X-API-Key": partner["key"]})
    assert public.status_code == 200 and public.headers["Content-Type"] == "image/jpeg"


def test_public_assets_are_served_to_anyone(stack: Stack) -> None:
    answer = stack.image(stack.public, Authorization="Bearer not-a-token")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"].startswith("public")
    assert "service" not in stack.image(stack.public, "/info.json").json()


def test_info_json_of_a_restricted_asset_declares_the_probe_service(stack: Stack) -> None:
    info = stack.image(stack.restricted, "/info.json")
    assert info.status_code == 200
    assert info.headers["Cache-Control"].startswith("private")
    (probe,) = info.json()["service"]
    assert probe["id"] == _probe_id(stack, stack.restricted)
    access = probe["service"][0]
    assert [s["type"] for s in access["service"]] == [
        "AuthAccessTokenService2",
        "AuthLogoutService2",
    ]


def test_a_policy_change_reaches_the_image_server(stack: Stack) -> None:
    asset = str(uuid.uuid4())
    upload_pyramid(
        stack.platform.settings,
        asset,
        write_pyramid(
            pyvips.Image.xyz(300, 200)[1].cast("uchar"), stack.images.log.with_name("x.tif")
        ),
    )
    assert stack.image(asset).status_code == 200
    cataloguer = stack.platform.token_for("cataloguer")
    for level, status in (("staff_only", 401), ("public", 200)):
        answer = stack.platform.request(
            "PUT", f"/api/v1/policies/asset/{asset}", token=cataloguer, json={"level": level}
        )
        assert answer.status_code == 200, answer.text
        wait_until(lambda status=status: stack.image(asset).status_code == status, timeout=10)


# the probe service -----------------------------------------------------------------------------
def test_probe_answers_for_each_credential(stack: Stack) -> None:
    def status(asset: str, token: str | None = None) -> int:
        answer = stack.probe(asset, token)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        body = answer.json()
        assert body["type"] == "AuthProbeResult2"
        assert body["@context"] == "http://iiif.io/api/auth/2/context.json"
        return int(body["status"])

    assert status(stack.restricted) == 401
    assert status(stack.restricted, "not-a-token") == 401
    assert status(stack.restricted, stack.platform.token_for("partner")) == 403
    assert status(stack.restricted, stack.platform.token_for("researcher")) == 200
    assert status(stack.public) == 200
    assert set(stack.probe(stack.restricted).json()["heading"]) == {"vi", "en"}


def test_probe_preflight_allows_the_authorization_header(stack: Stack) -> None:
    answer = stack.platform.request(
        "OPTIONS",
        f"/iiif/auth/2/probe/asset/{stack.restricted}",
        headers={"Origin": VIEWER, "Access-Control-Request-Headers": "authorization"},
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]


def test_probe_refuses_bad_identifiers_clearly(stack: Stack) -> None:
    assert stack.platform.request("GET", "/iiif/auth/2/probe/manifest/x").status_code == 404
    answer = stack.platform.request("GET", f"/iiif/auth/2/probe/asset/{'x' * 300}")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"


# the access service (active profile) -----------------------------------------------------------
def test_login_page_is_bilingual_with_a_strict_csp(stack: Stack) -> None:
    page = requests.get(stack.platform.url(f"/iiif/auth/2/access?origin={VIEWER}"))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Đăng nhập" in page.text and "Log in" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "<script" not in page.text
    assert "SameSite=Strict" in page.headers["Set-Cookie"]


def test_login_without_the_csrf_token_is_refused(stack: Stack) -> None:
    browser = requests.Session()
    browser.get(stack.platform.url("/iiif/auth/2/access"))
    forged = browser.post(
        stack.platform.url("/iiif/auth/2/access"),
        data={"csrf": "guess", "username": stack.user("researcher"), "password": PASSWORD},
    )
    assert forged.status_code == 403
    assert not browser.cookies.get("disan_iiif")
    fresh = requests.post(
        stack.platform.url("/iiif/auth/2/access"),
        data={"username": stack.user("researcher"), "password": PASSWORD},
    )
    assert fresh.status_code == 403 and "disan_iiif=" not in fresh.headers.get("Set-Cookie", "")


def test_wrong_password_sets_no_cookie_and_input_is_escaped(stack: Stack) -> None:
    browser = requests.Session()
    page = browser.get(stack.platform.url("/iiif/auth/2/access"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    hostile = '"><script>alert(1)</script>'
    answer = browser.post(
        stack.platform.url("/iiif/auth/2/access"),
        data={"csrf": csrf.group(1), "username": hostile, "password": "wrong password 123"},
    )
    assert answer.status_code == 401
    assert "<script>alert(1)" not in answer.text and "&lt;script&gt;" in answer.text
    assert not browser.cookies.get("disan_iiif")


def test_login_sets_an_httponly_samesite_session_cookie(stack: Stack) -> None:
    browser = requests.Session()
    page = browser.get(stack.platform.url("/iiif/auth/2/access"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = browser.post(
        stack.platform.url("/iiif/auth/2/access"),
        data={"csrf": csrf.group(1), "username": stack.user("researcher"), "password": PASSWORD},
    )
    assert answer.status_code == 200
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie") if "disan_iiif=" in c)
    assert "HttpOnly" in cookie and "Path=/iiif" in cookie and "SameSite=Lax" in cookie
    assert "window.close()" in answer.text


# the token service and the cookie at the image server ------------------------------------------
def test_token_service_posts_a_token_to_an_allowed_origin_only(stack: Stack) -> None:
    browser = _login(stack, "researcher")
    page = _token(browser, stack)
    assert page.status_code == 200
    message, origin = _message(page)
    assert origin == VIEWER
    assert message["type"] == "AuthAccessToken2" and message["messageId"] == "m-1"
    assert message["expiresIn"] > 0
    assert f"frame-ancestors {VIEWER}" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    # the token opens the probe and the image
    token = message["accessToken"]
    assert stack.probe(stack.restricted, token).json()["status"] == 200
    assert stack.image(stack.restricted, Authorization=f"Bearer {token}").status_code == 200

    evil = _token(browser, stack, "https://evil.example")
    message, origin = _message(evil)
    assert origin == "https://evil.example"
    assert message == {**message, "type": "AuthAccessTokenError2", "profile": "invalidOrigin"}
    assert "accessToken" not in evil.text and token not in evil.text

    broken = _token(browser, stack, "javascript:alert(1)")
    assert broken.status_code == 400 and "<script" not in broken.text


def test_token_service_without_a_session_says_missing_aspect(stack: Stack) -> None:
    message, _ = _message(_token(requests.Session(), stack))
    assert message["type"] == "AuthAccessTokenError2" and message["profile"] == "missingAspect"
    stranger = requests.Session()
    stranger.cookies.set("disan_iiif", "is_forged", path="/iiif")
    message, _ = _message(_token(stranger, stack))
    assert message["profile"] == "invalidAspect"


def test_the_session_cookie_opens_restricted_images_for_allowed_roles_only(stack: Stack) -> None:
    researcher = _login(stack, "researcher").cookies.get("disan_iiif", path="/iiif")
    partner = _login(stack, "partner").cookies.get("disan_iiif", path="/iiif")
    ok = stack.image(stack.restricted, Cookie=f"disan_iiif={researcher}")
    assert ok.status_code == 200
    assert stack.image(stack.restricted, Cookie=f"disan_iiif={partner}").status_code == 403
    assert stack.image(stack.restricted, Cookie="disan_iiif=is_forged").status_code == 401


def test_logout_revokes_the_cookie_and_its_tokens(stack: Stack) -> None:
    browser = _login(stack, "researcher")
    cookie = browser.cookies.get("disan_iiif", path="/iiif")
    token = _message(_token(browser, stack))[0]["accessToken"]
    assert stack.image(stack.restricted, Cookie=f"disan_iiif={cookie}").status_code == 200
    assert stack.image(stack.restricted, Authorization=f"Bearer {token}").status_code == 200

    out = browser.get(stack.platform.url("/iiif/auth/2/logout"))
    assert out.status_code == 200 and "Bạn đã đăng xuất" in out.text
    assert not browser.cookies.get("disan_iiif")
    assert _message(_token(browser, stack))[0]["profile"] == "missingAspect"

    replay = requests.Session()
    replay.cookies.set("disan_iiif", cookie, path="/iiif")
    assert _message(_token(replay, stack))[0]["profile"] == "invalidAspect"
    wait_until(lambda: stack.probe(stack.restricted, token).json()["status"] == 401, timeout=10)
    wait_until(
        lambda: stack.image(stack.restricted, Cookie=f"disan_iiif={cookie}").status_code == 401,
        timeout=10,
    )
    wait_until(
        lambda: stack.image(stack.restricted, Authorization=f"Bearer {token}").status_code == 401,
        timeout=10,
    )


def test_a_role_change_ends_the_iiif_session(stack: Stack) -> None:
    browser = _login(stack, "reviewer")
    cookie = browser.cookies.get("disan_iiif", path="/iiif")
    assert stack.image(stack.restricted, Cookie=f"disan_iiif={cookie}").status_code == 200
    reviewer = stack.platform.users["reviewer"]["id"]
    changed = stack.platform.request(
        "PUT",
        f"/api/v1/users/{reviewer}/roles",
        token=stack.platform.token_for("admin"),
        json={"roles": ["researcher"]},
    )
    assert changed.status_code == 200, changed.text
    assert _message(_token(browser, stack))[0]["profile"] == "invalidAspect"
    wait_until(
        lambda: stack.image(stack.restricted, Cookie=f"disan_iiif={cookie}").status_code == 401,
        timeout=10,
    )


def test_records_have_probe_services_too(stack: Stack) -> None:
    record = str(uuid.uuid4())
    stack.platform.set_policy("record", record, "cataloguer", level="staff_only")

    def status(token: str | None = None) -> int:
        probe = stack.platform.request("GET", f"/iiif/auth/2/probe/record/{record}", token=token)
        return int(probe.json()["status"])

    assert status() == 401
    assert status(stack.platform.token_for("researcher")) == 403
    assert status(stack.platform.token_for("cataloguer")) == 200


# an asset inherits its record's policy (ADR 0022) ------------------------------------------------
def test_an_asset_of_a_restricted_record_is_restricted_too(stack: Stack) -> None:
    record = str(uuid.uuid4())
    stack.set_policy("record", record, "restricted")
    asset = stack.new_asset()
    stack.ingest(asset, record)
    wait_until(lambda: stack.policy(asset)["inherited_from"] is not None, timeout=10)
    assert stack.policy(asset) == {
        "resource_kind": "asset",
        "resource_id": asset,
        "level": "restricted",
        "embargo_until": None,
        "reason": "",
        "inherited_from": {"resource_kind": "record", "resource_id": record},
    }
    staff = stack.platform.request(
        "GET", f"/api/v1/policies/asset/{asset}", token=stack.platform.token_for("cataloguer")
    )
    assert staff.status_code == 200, staff.text
    assert staff.json()["inherited_from"] == {"resource_kind": "record", "resource_id": record}
    assert stack.image(asset).status_code == 401
    assert "service" in stack.image(asset, "/info.json").json()
    researcher = stack.platform.token_for("researcher")
    allowed = stack.image(asset, Authorization=f"Bearer {researcher}")
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Cache-Control"].startswith("private")
    assert stack.image(asset).status_code == 401  # the cached tile is still refused
    assert int(stack.probe(asset).json()["status"]) == 401
    assert int(stack.probe(asset, researcher).json()["status"]) == 200

    # a redelivered ingest event changes nothing
    stack.ingest(asset, record, times=2)
    assert stack.image(asset).status_code == 401

    # the record made public: the tile and the probe follow within the purge time
    stack.set_policy("record", record, "public")
    wait_until(lambda: stack.image(asset).status_code == 200, timeout=10)
    wait_until(lambda: int(stack.probe(asset).json()["status"]) == 200, timeout=10)
    stack.set_policy("record", record, "staff_only")
    wait_until(lambda: stack.image(asset).status_code == 401, timeout=10)
    wait_until(lambda: int(stack.probe(asset).json()["status"]) == 401, timeout=10)


def test_an_unpublished_record_s_images_are_for_staff_only(stack: Stack) -> None:
    """Draft, withdrawn and deleted records are not the public's (ADR 0040), nor their images
    (ADR 0034): the tile follows the record's workflow, not only its policy."""
    record, asset = str(uuid.uuid4()), stack.new_asset()
    stack.record_event("catalogue.record_created", record, "draft", 1)
    stack.ingest(asset, record)
    wait_until(lambda: stack.policy(asset)["level"] == "staff_only", timeout=10)
    assert stack.policy(asset)["inherited_from"] == {
        "resource_kind": "record",
        "resource_id": record,
    }
    assert stack.image(asset).status_code == 401
    researcher = stack.platform.token_for("researcher")
    assert stack.image(asset, Authorization=f"Bearer {researcher}").status_code == 403
    cataloguer = stack.platform.token_for("cataloguer")
    staff = stack.image(asset, Authorization=f"Bearer {cataloguer}")
    assert staff.status_code == 200, staff.text
    assert int(stack.probe(asset).json()["status"]) == 401

    stack.record_event("catalogue.record_published", record, "published", 2)
    wait_until(lambda: stack.image(asset).status_code == 200, timeout=10)
    stack.record_event("catalogue.record_withdrawn", record, "withdrawn", 3)
    wait_until(lambda: stack.image(asset).status_code == 401, timeout=10)

    # an older step delivered late changes nothing
    stack.record_event("catalogue.record_published", record, "published", 2)
    time.sleep(2.5)  # past the image server's decision cache (1 s here)
    assert stack.policy(asset)["level"] == "staff_only"
    assert stack.image(asset).status_code == 401

    # published again, then deleted: a deleted record stays closed whatever comes later
    stack.record_event("catalogue.record_published", record, "published", 4)
    wait_until(lambda: stack.image(asset).status_code == 200, timeout=10)
    stack.record_event("catalogue.record_deleted", record, "published", 5)
    wait_until(lambda: stack.image(asset).status_code == 401, timeout=10)
    stack.record_event("catalogue.record_published", record, "published", 6)
    time.sleep(2.5)
    assert stack.image(asset).status_code == 401

    # each change of visibility was announced once, for the caches to purge (ADR 0034)
    def announced() -> list[tuple[bool, str]]:
        found = stack.platform.request(
            "GET",
            "/api/v1/audit?type=access.record_visibility_changed&limit=100",
            token=stack.platform.token_for("admin"),
        )
        assert found.status_code == 200, found.text
        items = [i["data"] for i in found.json()["items"] if i["data"]["record_id"] == record]
        return [(i["published"], i["state"]) for i in reversed(items)]

    expected = [  # not at creation: nothing was cached on the state of a new record
        (True, "published"),
        (False, "withdrawn"),
        (True, "published"),
        (False, "deleted"),
    ]
    wait_until(lambda: announced() == expected, timeout=10)


def test_an_asset_s_own_policy_wins_over_its_record_s(stack: Stack) -> None:
    record = str(uuid.uuid4())
    stack.set_policy("record", record, "restricted")
    asset = stack.new_asset()
    stack.set_policy("asset", asset, "public")
    stack.ingest(asset, record)
    sibling = stack.new_asset()
    stack.ingest(sibling, record)
    wait_until(lambda: stack.policy(sibling)["inherited_from"] is not None, timeout=10)
    assert stack.policy(asset)["level"] == "public"
    assert stack.policy(asset)["inherited_from"] is None
    assert stack.image(asset).status_code == 200
    assert int(stack.probe(asset).json()["status"]) == 200
    assert stack.image(sibling).status_code == 401


def test_the_projection_is_idempotent_and_keeps_deleted_assets(stack: Stack) -> None:
    record, asset = str(uuid.uuid4()), str(uuid.uuid4())
    stack.set_policy("record", record, "restricted")
    stack.ingest(asset, record, times=3)  # one event, redelivered
    stack.ingest(asset, record)  # and announced again
    wait_until(lambda: stack.policy(asset)["level"] == "restricted", timeout=10)
    stack.announce(
        "media.asset_deleted",
        {"asset_id": asset, "record_id": record, "purge_after": "2026-12-31T00:00:00Z"},
    )
    rows = stack.platform.sql("SELECT record_id FROM asset_records WHERE asset_id = :a", a=asset)
    assert [tuple(r) for r in rows] == [(record,)]
    wait_until(
        lambda: stack.platform.sql(
            "SELECT deleted FROM asset_records WHERE asset_id = :a", a=asset
        )[0][0],
        timeout=10,
    )
    assert stack.policy(asset)["level"] == "restricted"


def test_a_record_policy_or_visibility_change_purges_decisions_before_they_expire(
    stack: Stack, test_env: dict[str, str], tmp_path: Any
) -> None:
    """With decisions kept 10 s, the record's change still reaches its assets at once: the
    image server forgets every decision on a record's ``access.policy_changed``."""
    slow = ServerProcess(
        test_env,
        tmp_path / "cache",
        DISAN_IMAGESERVER_ACCESS="policy",
        DISAN_IMAGESERVER_ACCESS_SERVICE=stack.platform.access_name,
        DISAN_IMAGESERVER_ACCESS_CACHE_SECONDS="10",
        DISAN_IMAGESERVER_WORKERS="1",  # one decision cache: the next request meets it
        DISAN_REDIS_PREFIX=stack.platform.prefix,
    )
    slow.start()
    try:
        record, asset = str(uuid.uuid4()), stack.new_asset()
        stack.set_policy("record", record, "restricted")
        stack.ingest(asset, record)
        wait_until(lambda: stack.policy(asset)["inherited_from"] is not None, timeout=10)
        url = f"{slow.url}/iiif/image/3/{asset}{TILE}"
        time.sleep(1)  # the image server's purge queue is bound by now
        decided = time.monotonic()
        assert requests.get(url).status_code == 401  # decided, kept 10 s
        stack.set_policy("record", record, "public")
        wait_until(lambda: requests.get(url).status_code == 200, timeout=8)
        assert time.monotonic() - decided < 10, "served only after the decision expired"

        # the same for a record's workflow: publishing a draft opens its images at once
        # (access.record_visibility_changed, ADR 0034)
        record, asset = str(uuid.uuid4()), stack.new_asset()
        stack.record_event("catalogue.record_created", record, "draft", 1)
        stack.ingest(asset, record)
        wait_until(lambda: stack.policy(asset)["level"] == "staff_only", timeout=10)
        url = f"{slow.url}/iiif/image/3/{asset}{TILE}"
        decided = time.monotonic()
        assert requests.get(url).status_code == 401  # decided, kept 10 s
        stack.record_event("catalogue.record_published", record, "published", 2)
        wait_until(lambda: requests.get(url).status_code == 200, timeout=8)
        assert time.monotonic() - decided < 10, "served only after the decision expired"
    finally:
        slow.stop()
