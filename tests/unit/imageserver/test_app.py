"""The ASGI application in-process, with a local pyramid instead of S3."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from services.imageserver.access import Credentials, Decision
from services.imageserver.app import ImageApp
from services.imageserver.caches import SourceCache
from services.imageserver.config import ImageServerConfig
from shared.storage import ObjectNotFound, StorageUnavailable


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: ImageApp, path: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> Response:
    raw = path.encode("utf-8")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": raw,
        "scheme": "http",
        "server": ("127.0.0.1", 8002),
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"host": "img.test", **(headers or {})}.items()
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent
    hdrs = {k.decode(): v.decode() for k, v in start["headers"]}
    return Response(start["status"], hdrs, body["body"])


class Restricted:
    service = {"id": "https://img.test/auth/probe", "type": "AuthProbeService2"}

    def check(self, asset_id: str, credentials: Credentials) -> Decision:
        if credentials.bearer == "good":
            return Decision.allow_private()
        if credentials.bearer:
            return Decision.deny(403, "not for you")
        return Decision.deny(401, "log in first", (self.service,))

    def cached(self, asset_id: str, credentials: Credentials) -> Decision | None:
        return None

    def purge(self, asset_id: str | None) -> None:
        return None


@pytest.fixture
def make_app(tmp_path: Path, pyramid: Path):  # type: ignore[no-untyped-def]
    fetched: list[str] = []

    def fetch(asset_id: str, target: Path) -> str:
        fetched.append(asset_id)
        if asset_id == "down":
            raise StorageUnavailable("S3 endpoint unreachable")
        if asset_id != "img":
            raise ObjectNotFound("NoSuchKey")
        shutil.copyfile(pyramid, target)
        return "etag-1"

    def make(access: Any = None, **options: Any) -> ImageApp:
        options.setdefault("public_base_url", "http://img.test")
        config = ImageServerConfig(cache_dir=str(tmp_path), render_threads=2, **options)
        app = ImageApp(config, SourceCache(config.source_dir, 10**9, fetch), access)
        app.fetched = fetched  # type: ignore[attr-defined]
        return app

    return make


def test_info_json_describes_the_pyramid_and_the_limits(make_app) -> None:  # type: ignore[no-untyped-def]
    response = call(make_app(), "/iiif/image/3/img/info.json")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    info = response.json()
    assert info["id"] == "http://img.test/iiif/image/3/img"
    assert (info["width"], info["height"]) == (1300, 900)
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4, 8]}]
    assert (info["maxWidth"], info["maxArea"]) == (10000, 25_000_000)
    assert set(info["extraFormats"]) >= {"webp", "tif"}
    assert set(info["extraQualities"]) >= {"gray", "bitonal"}
    assert {"mirroring", "rotationArbitrary", "sizeUpscaling"} <= set(info["extraFeatures"])


def test_info_json_is_json_ld_when_asked(make_app) -> None:  # type: ignore[no-untyped-def]
    response = call(
        make_app(), "/iiif/image/3/img/info.json", headers={"Accept": "application/ld+json"}
    )
    assert response.headers["content-type"] == (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    )


FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize("version", [3, 2])
def test_a_forged_host_never_changes_the_public_urls(make_app, version: int) -> None:  # type: ignore[no-untyped-def]
    # info.json is cached publicly for a day: its id must not follow the client's headers
    app = make_app(public_base_url="https://heritage.example/")
    info = call(app, f"/iiif/image/{version}/img/info.json", headers=FORGED)
    assert info.json()["id" if version == 3 else "@id"] == (
        f"https://heritage.example/iiif/image/{version}/img"
    )
    plain = call(app, f"/iiif/image/{version}/img/info.json")
    assert info.body == plain.body and info.headers["etag"] == plain.headers["etag"]
    image = call(app, f"/iiif/image/{version}/img/full/100,/0/default.jpg", headers=FORGED)
    assert image.headers["link"].startswith(f"<https://heritage.example/iiif/image/{version}/")
    redirect = call(app, f"/iiif/image/{version}/img", headers=FORGED)
    assert redirect.headers["location"].startswith("https://heritage.example/")


def test_an_app_without_a_public_url_does_not_start(tmp_path: Path) -> None:
    config = ImageServerConfig(cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="public"):
        ImageApp(config, SourceCache(config.source_dir, 10**6, lambda a, t: ""))


def test_max_with_an_arbitrary_rotation_fits_the_limits_and_answers(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(max_width=1000, max_height=1000, max_area=600_000)
    response = call(app, "/iiif/image/3/img/full/max/45/default.png")
    assert response.status == 200, response.body
    width, height = Image.open(io.BytesIO(response.body)).size
    assert width <= 1000 and height <= 1000 and width * height <= 600_000
    assert response.headers["link"].startswith("<http://img.test/iiif/image/3/img/full/max/45/")


def test_image_2_1_full_is_the_full_size_or_a_clear_400(make_app) -> None:  # type: ignore[no-untyped-def]
    full = call(make_app(), "/iiif/image/2/img/full/full/0/default.png")
    assert full.status == 200 and Image.open(io.BytesIO(full.body)).size == (1300, 900)
    limited = make_app(max_width=1000, max_height=1000)
    refused = call(limited, "/iiif/image/2/img/full/full/0/default.png")
    assert refused.status == 400
    assert refused.json()["error"]["code"] == "too_large"
    assert refused.json()["error"]["details"]["parameter"] == "size"
    largest = call(limited, "/iiif/image/2/img/full/max/0/default.png")
    assert largest.status == 200
    assert Image.open(io.BytesIO(largest.body)).size == (1000, 692)


def test_image_2_1_is_served_too(make_app) -> None:  # type: ignore[no-untyped-def]
    info = call(make_app(), "/iiif/image/2/img/info.json").json()
    assert info["@id"] == "http://img.test/iiif/image/2/img"
    image = call(make_app(), "/iiif/image/2/img/full/100,/0/native.png")
    assert image.status == 200 and Image.open(io.BytesIO(image.body)).size == (100, 69)


def test_base_uri_redirects_to_info_json(make_app) -> None:  # type: ignore[no-untyped-def]
    response = call(make_app(), "/iiif/image/3/img")
    assert response.status == 303
    assert response.headers["location"] == "http://img.test/iiif/image/3/img/info.json"


def test_an_aligned_tile_is_the_stored_jpeg_with_iiif_headers(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    response = call(app, "/iiif/image/3/img/256,0,256,256/256,/0/default.jpg")
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["link"] == (
        '<http://img.test/iiif/image/3/img/256,0,256,256/max/0/default.jpg>;rel="canonical", '
        '<http://iiif.io/api/image/3/level2.json>;rel="profile"'
    )
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert Image.open(io.BytesIO(response.body)).size == (256, 256)
    page = app.handles["img"]
    assert response.body == page.passthrough(
        __import__("services.imageserver.plan", fromlist=["TileRef"]).TileRef(0, 1, 0)
    )


def test_conditional_requests_get_304(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    first = call(app, "/iiif/image/3/img/full/200,/0/default.jpg")
    again = call(
        app,
        "/iiif/image/3/img/full/200,/0/default.jpg",
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status == 304 and again.body == b""
    since = call(
        app,
        "/iiif/image/3/img/full/200,/0/default.jpg",
        headers={"If-Modified-Since": first.headers["last-modified"]},
    )
    assert since.status == 304


@pytest.mark.parametrize(
    ("path", "fmt", "size", "mode"),
    [
        ("full/max/0/default.png", "PNG", (1300, 900), "RGB"),
        ("square/100,/0/gray.webp", "WEBP", (100, 100), None),
        ("pct:10,10,50,50/^800,/!90/bitonal.png", "PNG", (554, 800), None),
        ("full/!300,300/22.5/color.png", "PNG", None, "RGBA"),
        ("0,0,10,10/max/0/default.tif", "TIFF", (10, 10), None),
        ("0,0,10,10/max/0/default.gif", "GIF", (10, 10), None),
    ],
)
def test_every_advertised_operation_renders(make_app, path, fmt, size, mode) -> None:  # type: ignore[no-untyped-def]
    response = call(make_app(), f"/iiif/image/3/img/{path}")
    assert response.status == 200, response.body
    image = Image.open(io.BytesIO(response.body))
    assert image.format == fmt
    if size:
        assert image.size == size
    if mode:
        assert image.mode == mode


def test_gray_and_bitonal_have_one_band(make_app) -> None:  # type: ignore[no-untyped-def]
    gray = Image.open(io.BytesIO(call(make_app(), "/iiif/image/3/img/full/64,/0/gray.png").body))
    bitonal = call(make_app(), "/iiif/image/3/img/full/64,/0/bitonal.png").body
    assert gray.mode == "L"
    assert set(Image.open(io.BytesIO(bitonal)).getdata()) <= {0, 255}


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("img/5000,0,10,10/max/0/default.jpg", 400, "region"),
        ("img/0,0,0,10/max/0/default.jpg", 400, "region"),
        ("img/full/0,/0/default.jpg", 400, "size"),
        ("img/full/pct:0/0/default.jpg", 400, "size"),
        ("img/full/!0,0/0/default.jpg", 400, "size"),
        ("img/full/^2400000,/0/default.jpg", 400, "size"),
        ("img/full/^60000,/0/default.jpg", 400, "size"),
        ("img/full/2000,/0/default.jpg", 400, "size"),
        ("img/full/!2000,3000/0/default.jpg", 400, "size"),
        ("img/full/max/99999999999999/default.jpg", 400, "rotation"),
        ("img/full/max/361/default.jpg", 400, "rotation"),
        ("img/full/^5000,/45/default.png", 400, "rotation"),  # 5000x3462, turned 52M px
        ("img/full/max/0/sepia.jpg", 400, "quality"),
        ("img/full/max/0/default.jp2", 400, "format"),
        ("img/full/max/0/default.exe", 400, "format"),
        ("a%2Fb/full/max/0/default.jpg", 404, "identifier"),
        ("..%2F..%2Fetc%2Fpasswd/info.json", 404, "identifier"),
        ("../info.json", 404, "identifier"),
        ("e%CC%81/info.json", 400, "identifier"),
        ("%FF/info.json", 400, "identifier"),
        ("nope/info.json", 404, None),
    ],
)
def test_bad_input_is_a_4xx_json_error_naming_the_parameter(
    make_app, path, status, parameter
) -> None:  # type: ignore[no-untyped-def]
    response = call(make_app(), f"/iiif/image/3/{path}")
    assert response.status == status, response.body
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if parameter:
        assert error["details"]["parameter"] == parameter


def test_raw_unicode_in_the_path_is_400(make_app) -> None:  # type: ignore[no-untyped-def]
    assert call(make_app(), "/iiif/image/3/ảnh/info.json").status == 400


def test_clamp_mode_answers_confined_boxes_with_the_region(make_app) -> None:  # type: ignore[no-untyped-def]
    response = call(
        make_app(confined_upscale="clamp"), "/iiif/image/3/img/full/!2000,3000/0/default.png"
    )
    assert response.status == 200
    assert Image.open(io.BytesIO(response.body)).size == (1300, 900)


def test_max_area_is_enforced_before_decoding(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(max_area=100_000, max_width=1000, max_height=1000)
    assert call(app, "/iiif/image/3/img/full/^1000,/0/default.jpg").status == 400
    info = call(app, "/iiif/image/3/img/info.json").json()
    assert info["maxArea"] == 100_000
    big = call(app, "/iiif/image/3/img/full/max/0/default.png")
    width, height = Image.open(io.BytesIO(big.body)).size
    assert width * height <= 100_000


def test_options_and_other_methods(make_app) -> None:  # type: ignore[no-untyped-def]
    options = call(make_app(), "/iiif/image/3/img/info.json", method="OPTIONS")
    assert options.status == 204
    assert options.headers["access-control-allow-origin"] == "*"
    assert "GET" in options.headers["access-control-allow-methods"]
    post = call(make_app(), "/iiif/image/3/img/info.json", method="POST")
    assert post.status == 405 and post.headers["access-control-allow-origin"] == "*"
    head = call(make_app(), "/iiif/image/3/img/info.json", method="HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0


def test_storage_outage_is_503_and_missing_is_cached_briefly(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    assert call(app, "/iiif/image/3/down/info.json").status == 503
    assert call(app, "/iiif/image/3/nope/info.json").status == 404
    assert call(app, "/iiif/image/3/nope/info.json").status == 404
    assert app.fetched.count("nope") == 1


def test_restricted_images_are_401_or_403_with_auth_services(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(access=Restricted())
    info = call(app, "/iiif/image/3/img/info.json")
    assert info.status == 200 and info.json()["service"] == [Restricted.service]
    assert info.headers["cache-control"] == "private, no-cache"
    anonymous = call(app, "/iiif/image/3/img/full/100,/0/default.jpg")
    assert anonymous.status == 401
    assert anonymous.headers["access-control-allow-origin"] == "*"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["error"]["details"]["service"] == [Restricted.service]
    wrong = call(
        app, "/iiif/image/3/img/full/max/0/default.jpg", headers={"Authorization": "Bearer bad"}
    )
    assert wrong.status == 403
    good = call(
        app, "/iiif/image/3/img/full/100,/0/default.jpg", headers={"Authorization": "Bearer good"}
    )
    assert good.status == 200 and good.headers["cache-control"] == "private, no-cache"


def test_the_tile_cache_never_serves_a_restricted_tile_to_the_unauthorised(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(access=Restricted())
    path = "/iiif/image/3/img/0,0,256,256/256,/0/default.jpg"
    assert call(app, path, headers={"Authorization": "Bearer good"}).status == 200
    assert len(app.tiles)  # the tile is cached now
    assert call(app, path).status == 401
    assert call(app, path, headers={"Authorization": "Bearer other"}).status == 403
    etag = call(app, path, headers={"Authorization": "Bearer good"}).headers["etag"]
    assert call(app, path, headers={"If-None-Match": etag}).status == 401


def test_an_unreachable_access_service_is_503_never_an_image(make_app) -> None:  # type: ignore[no-untyped-def]
    from services.imageserver.access import AccessUnavailable

    class Down(Restricted):
        def check(self, asset_id: str, credentials: Credentials) -> Decision:
            raise AccessUnavailable("the access service did not answer")

    response = call(make_app(access=Down()), "/iiif/image/3/img/full/100,/0/default.jpg")
    assert response.status == 503 and response.headers["retry-after"]
    assert response.headers["access-control-allow-origin"] == "*"


def test_purge_drops_handles_and_tiles(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    call(app, "/iiif/image/3/img/full/50,/0/default.jpg")
    assert app.handles and len(app.tiles)
    app.purge("img")
    assert not app.handles and not len(app.tiles)


def test_health_and_unknown_routes(make_app) -> None:  # type: ignore[no-untyped-def]
    assert call(make_app(), "/healthz").json()["status"] == "ok"
    missing = call(make_app(), "/nothing/here")
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    assert call(make_app(), "/iiif/image/3/").status == 404


def test_past_the_concurrency_limit_requests_are_503_overloaded_with_cors(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(limit_concurrency=2)
    assert call(app, "/iiif/image/3/img/info.json").status == 200
    assert app.in_progress == 0, "finished requests are no longer counted"
    app.in_progress = 2  # two requests still being answered
    busy = call(app, "/iiif/image/3/img/full/64,/0/default.jpg")
    assert busy.status == 503
    assert busy.headers["access-control-allow-origin"] == "*"
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "overloaded"
    assert call(app, "/healthz").status == 200
    app.in_progress = 1
    assert call(app, "/iiif/image/3/img/full/64,/0/default.jpg").status == 200


def test_large_renders_wait_for_each_other_small_ones_do_not(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Memory: one large image at a time per worker (ADR 0023); large ones that wait hold no
    render thread, so tiles asked for after them are rendered before them."""
    import threading
    import time

    from services.imageserver import app as app_module

    running = {"large": 0, "small": 0}
    most = {"large": 0, "small": 0}
    starts: list[str] = []
    lock = threading.Lock()

    def fake_render(handle, resolved, plan, quality):  # type: ignore[no-untyped-def]
        kind = "large" if resolved.width * resolved.height > 4_000_000 else "small"
        with lock:
            running[kind] += 1
            most[kind] = max(most[kind], running[kind])
            starts.append(kind)
        time.sleep(0.2)
        with lock:
            running[kind] -= 1
        return b"image"

    monkeypatch.setattr(app_module, "render", fake_render)
    app = make_app()  # two render threads
    call(app, "/iiif/image/3/img/info.json")  # the handle is open before the race
    paths = [f"/iiif/image/3/img/full/^{w},/0/default.jpg" for w in (2600, 2700, 2800)]
    paths += [f"/iiif/image/3/img/0,0,{w},{w}/{w},/0/default.jpg" for w in (100, 200)]

    async def answer(path: str) -> int:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode()}
        await app({**scope, "headers": [(b"host", b"img.test")]}, receive, send)
        return int(sent[0]["status"])

    async def race() -> list[int]:
        return list(await asyncio.gather(*(answer(path) for path in paths)))

    assert asyncio.run(race()) == [200] * 5
    assert most["large"] == 1, "two large images were rendered at once"
    last = {kind: max(i for i, started in enumerate(starts) if started == kind) for kind in most}
    assert last["small"] < last["large"], f"the tiles waited for the large images: {starts}"


def test_an_unreadable_pyramid_is_a_reported_500_not_a_crash(tmp_path: Path) -> None:
    def fetch(asset_id: str, target: Path) -> str:
        target.write_bytes(b"II*\x00 this is not a pyramid")
        return "etag"

    config = ImageServerConfig(cache_dir=str(tmp_path), public_base_url="http://img.test")
    app = ImageApp(config, SourceCache(config.source_dir, 10**9, fetch))
    response = call(app, "/iiif/image/3/broken/info.json")
    assert response.status == 500
    assert response.json()["error"]["code"] == "source_unreadable"
    assert response.headers["access-control-allow-origin"] == "*"
