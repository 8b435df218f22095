"""The image server over HTTP: IIIF responses, bad input, bursts, purges, shutdown."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from kombu import Connection
from PIL import Image

from shared.bus import events_exchange
from shared.events import Event
from tests.integration.imageserver.conftest import ASSET, HEIGHT, WIDTH
from tests.integration.imageserver.support import (
    ROOT,
    TILE,
    ServerProcess,
    gradient_image,
    upload_pyramid,
    write_pyramid,
)

pytestmark = pytest.mark.integration

PREFIX = "/iiif/image/3"


def raw_get(server: ServerProcess, path: str) -> tuple[int, dict[str, str], bytes]:
    """A GET with the path exactly as given (no client-side normalisation or encoding)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def metric(server: ServerProcess, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{server.ops_port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_info_json_comes_from_the_pyramid(imageserver: ServerProcess) -> None:
    response = requests.get(f"{imageserver.url}{PREFIX}/{ASSET}/info.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    info = response.json()
    assert info["id"] == f"{imageserver.url}{PREFIX}/{ASSET}"
    assert (info["width"], info["height"]) == (WIDTH, HEIGHT)
    assert info["tiles"] == [{"width": TILE, "height": TILE, "scaleFactors": [1, 2, 4, 8]}]
    assert {"width": 375, "height": 250} in info["sizes"]
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (10000, 10000, 25_000_000)
    assert info["profile"] == "level2" and info["type"] == "ImageService3"
    assert {"webp", "tif"} <= set(info["extraFormats"])
    assert {"gray", "bitonal"} <= set(info["extraQualities"])
    assert {"mirroring", "rotationArbitrary", "sizeUpscaling"} <= set(info["extraFeatures"])


def test_aligned_tiles_pass_through_and_repeats_hit_the_cache(imageserver: ServerProcess) -> None:
    before = metric(imageserver, 'disan_imageserver_images_total{origin="passthrough"}')
    url = f"{imageserver.url}{PREFIX}/{ASSET}/1024,0,1024,1024/512,/0/default.jpg"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(first.content)).size == (512, 512)
    assert 'rel="canonical"' in first.headers["Link"]
    assert metric(imageserver, 'disan_imageserver_images_total{origin="passthrough"}') >= (
        before + 1
    )
    conditional = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert conditional.status_code == 304
    for _ in range(4):  # whichever worker answers, its cache soon has it
        assert requests.get(url, timeout=10).content == first.content
    assert metric(imageserver, 'disan_imageserver_tile_cache_total{result="hit"}') >= 1


def test_iiif_headers_over_http(imageserver: ServerProcess) -> None:
    """Issue 6's HTTP surface through the real server: CORS on OPTIONS and HEAD, the Link
    canonical and profile headers, long-lived public caching, 304 on If-Modified-Since, the
    base URI's 303."""
    base = f"{imageserver.url}{PREFIX}/{ASSET}"
    url = f"{base}/full/pct:10/0/default.jpg"
    image = requests.get(url, timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["Access-Control-Allow-Origin"] == "*"
    assert f'<{base}/full/300,200/0/default.jpg>;rel="canonical"' in image.headers["Link"]
    assert '<http://iiif.io/api/image/3/level2.json>;rel="profile"' in image.headers["Link"]
    assert image.headers["Cache-Control"] == "public, max-age=2592000"
    since = requests.get(
        url, headers={"If-Modified-Since": image.headers["Last-Modified"]}, timeout=10
    )
    assert since.status_code == 304 and since.content == b""
    assert since.headers["Access-Control-Allow-Origin"] == "*"
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(image.content))
    preflight = requests.options(
        f"{base}/info.json",
        headers={
            "Origin": "https://viewer.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    info = requests.get(f"{base}/info.json", headers={"Accept": "application/ld+json"}, timeout=10)
    assert info.headers["Content-Type"] == (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    )
    assert info.headers["Cache-Control"] == "public, max-age=86400"
    assert 'rel="profile"' in info.headers["Link"]
    redirect = requests.get(base, allow_redirects=False, timeout=10)
    assert redirect.status_code == 303 and redirect.headers["Location"] == f"{base}/info.json"
    assert redirect.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        (f"{PREFIX}/{ASSET}/3000,0,10,10/max/0/default.jpg", 400, "region"),  # region outside
        (f"{PREFIX}/{ASSET}/0,0,0,0/max/0/default.jpg", 400, "region"),  # zero region
        (f"{PREFIX}/{ASSET}/full/0,0/0/default.jpg", 400, "size"),  # zero size
        (f"{PREFIX}/{ASSET}/full/pct:0/0/default.jpg", 400, "size"),
        (f"{PREFIX}/{ASSET}/full/!0,0/0/default.jpg", 400, "size"),
        (f"{PREFIX}/{ASSET}/full/^2400000,/0/default.jpg", 400, "size"),  # 2.4-million-px wide
        (f"{PREFIX}/{ASSET}/0,0,1,1/^65535,/0/default.jpg", 400, "size"),  # over maxArea
        # within maxArea (5000x3333), but turned its canvas (5893x5893) is not
        (f"{PREFIX}/{ASSET}/full/^5000,/45/default.webp", 400, "rotation"),
        (f"{PREFIX}/{ASSET}/full/max/1e308/default.jpg", 400, "rotation"),  # huge rotation
        (f"{PREFIX}/{ASSET}/full/max/{'9' * 400}/default.jpg", 400, "rotation"),
        (f"{PREFIX}/{ASSET}/full/max/-90/default.jpg", 400, "rotation"),
        (f"{PREFIX}/{ASSET}/full/max/0/default.bmp", 400, "format"),  # unknown format
        (f"{PREFIX}/{ASSET}/full/max/0/default", 400, "format"),
        (f"{PREFIX}/a%2Fb/full/max/0/default.jpg", 404, "identifier"),  # URL-encoded slash
        (f"{PREFIX}/..%2F..%2Fetc%2Fpasswd/info.json", 404, "identifier"),
        (f"{PREFIX}/../../etc/passwd", 400, "path"),  # raw .. segments
        (f"{PREFIX}/../info.json", 404, "identifier"),
        (f"{PREFIX}/%E1%BA%A3nh-%C4%91%C3%ACnh/info.json", 404, None),  # unicode id, no such image
        (f"{PREFIX}/e%CC%81/info.json", 400, "identifier"),  # not NFC
        (f"{PREFIX}/%00/info.json", 400, "identifier"),
        (f"{PREFIX}/%/info.json", 400, "identifier"),
        (f"{PREFIX}/{'x' * 300}/info.json", 400, "identifier"),
        (f"{PREFIX}/{uuid.uuid4()}/full/max/0/default.jpg", 404, None),
        ("/iiif/image/4/x/info.json", 404, None),
    ],
)
def test_bad_input_is_4xx_with_a_json_error(
    imageserver: ServerProcess, path: str, status: int, parameter: str | None
) -> None:
    code, headers, body = raw_get(imageserver, path)
    assert code == status, body
    assert headers["access-control-allow-origin"] == "*"
    error = json.loads(body)["error"]
    assert error["code"] and error["message"]
    if parameter:  # every violation names the request part at fault
        assert error["details"]["parameter"] == parameter, error


def test_raw_utf8_in_the_path_is_refused(imageserver: ServerProcess) -> None:
    sock = __import__("socket").create_connection(("127.0.0.1", imageserver.port), timeout=10)
    try:
        sock.sendall("GET /iiif/image/3/ảnh/info.json HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert status_line.split()[1] in (b"400", b"404")


@pytest.fixture(scope="module")
def quiet_server(test_env, imageserver_assets, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A server that hears no purge events (other suites share the broker and may send some)."""
    server = ServerProcess(
        test_env, tmp_path_factory.mktemp("quiet"), DISAN_IMAGESERVER_PURGE_EVENTS="false"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def burst(port: int, path: str, connections: int, each: int) -> dict[str, Any]:
    """``connections`` opened at once, ``each`` requests on each, from a client in its own
    process (asyncio cannot run in this eventlet-patched one); what it saw, as JSON."""
    client = subprocess.run(
        [sys.executable, "-m", "tests.integration.imageserver.burst"]
        + [str(port), path, str(connections), str(each)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert client.returncode == 0, client.stderr[-3000:]
    return dict(json.loads(client.stdout))


def test_ten_thousand_requests_for_one_uncached_tile_cost_one_decode_per_worker(
    quiet_server: ServerProcess,
) -> None:
    """Issue 6: 10,000 concurrent-ish requests for one uncached tile (1,000 connections opened
    at once, 10 requests each) are all served, with one decode per worker (single flight, then
    the tile cache), in bounded memory."""
    imageserver = quiet_server
    path = f"{PREFIX}/{ASSET}/700,300,900,900/450,/7.5/gray.png"
    decodes = metric(imageserver, "disan_imageserver_decode_seconds_count")
    result = burst(imageserver.port, path, connections=1000, each=10)
    assert result["failures"] == {}
    assert result["statuses"] == {"200": 10_000}
    assert result["no_cors"] == 0
    assert len(result["bodies"]) == 1, "every answer must be the same image"
    assert metric(imageserver, "disan_imageserver_decode_seconds_count") - decodes <= 2
    assert server_rss(imageserver) < 1_000_000_000, "memory is not bounded"
    # libvips' per-render info messages stay out of the log (they were ~5 lines a render)
    chatter = [
        line
        for line in imageserver.log.read_text().splitlines()
        if '"logger": "pyvips' in line and '"level": "INFO"' in line
    ]
    assert chatter == []


def test_past_its_concurrency_limit_a_worker_answers_503_json_with_cors(
    test_env, imageserver_assets, tmp_path: Path
) -> None:
    """Overload is a clear, retryable answer in the one error format, never a bare text 503
    without CORS (which a viewer on another origin cannot even read) and never a 500."""
    server = ServerProcess(
        test_env,
        tmp_path,
        DISAN_IMAGESERVER_WORKERS="1",
        DISAN_IMAGESERVER_LIMIT_CONCURRENCY="8",
        DISAN_IMAGESERVER_PURGE_EVENTS="false",
    )
    server.start()
    try:
        path = f"{PREFIX}/{ASSET}/1000,700,1500,1100/^1600,/33/bitonal.png"
        result = burst(server.port, path, connections=200, each=1)
        assert result["failures"] == {}
        assert set(result["statuses"]) <= {"200", "503"}, result["statuses"]
        assert result["statuses"].get("503"), "the limit was never reached"
        assert result["statuses"].get("200"), "requests within the limit are served"
        assert result["no_cors"] == 0
        refusal = result["samples"]["503"]
        assert "\r\ncontent-type: application/json" in refusal["head"]
        assert "\r\nretry-after: " in refusal["head"]
        assert json.loads(refusal["body"])["error"]["code"] == "overloaded"
        assert requests.get(f"{server.url}/healthz", timeout=10).ok
    finally:
        server.stop()


def server_rss(server: ServerProcess) -> int:
    """Summed RSS of the server's supervisor and its workers."""
    assert server.proc is not None
    pids = [server.proc.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.proc.pid:
                pids.append(int(entry.name))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def test_ops_port_has_health_and_metrics(imageserver: ServerProcess) -> None:
    for _ in range(2):  # a render, then (per worker) a cache hit: every series has a sample
        tile = requests.get(
            f"{imageserver.url}{PREFIX}/{ASSET}/0,0,300,300/150,/0/default.jpg", timeout=10
        )
        assert tile.status_code == 200
    health = requests.get(f"http://127.0.0.1:{imageserver.ops_port}/healthz", timeout=5).json()
    assert health["status"] == "ok" and health["workers"] == 2
    ready = requests.get(f"http://127.0.0.1:{imageserver.ops_port}/readyz", timeout=10)
    assert ready.status_code == 200
    text = requests.get(f"http://127.0.0.1:{imageserver.ops_port}/metrics", timeout=5).text
    for name in (
        "disan_imageserver_requests_total",
        "disan_imageserver_response_bytes_total",
        "disan_imageserver_tile_cache_total",
        "disan_imageserver_decode_seconds",
        "disan_imageserver_images_total",
    ):
        assert name in text
    assert requests.get(f"{imageserver.url}/healthz", timeout=5).ok


def test_the_public_port_does_not_serve_metrics(imageserver: ServerProcess) -> None:
    """Metrics are for operators, on the ops port (not routed by the front or the ingress),
    as for every service; the public port answers images, info.json and /healthz only."""
    for method in ("GET", "HEAD"):
        answer = requests.request(method, f"{imageserver.url}/metrics", timeout=5)
        assert answer.status_code == 404
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "disan_imageserver" not in answer.text


def test_a_media_event_purges_the_caches(
    imageserver: ServerProcess, settings, tmp_path: Path
) -> None:
    """A new pyramid announced by a media event replaces the cached source, handles and
    rendered tiles in every worker: info.json and a tile both come from the new pyramid."""
    asset = f"purge-{uuid.uuid4().hex[:8]}"
    upload_pyramid(settings, asset, write_pyramid(gradient_image(800, 600), tmp_path / "a.tif"))
    info_url = f"{imageserver.url}{PREFIX}/{asset}/info.json"
    tile_url = f"{imageserver.url}{PREFIX}/{asset}/0,0,200,200/100,/0/default.png"
    assert requests.get(info_url, timeout=10).json()["width"] == 800
    old_tiles = {requests.get(tile_url, timeout=10).content for _ in range(6)}
    assert len(old_tiles) == 1  # rendered once per worker, then from the tile cache
    deadline = time.monotonic() + 20
    ops = f"http://127.0.0.1:{imageserver.ops_port}/healthz"
    while requests.get(ops, timeout=5).json()["purge_events"] != "connected":
        assert time.monotonic() < deadline, "the purge consumer never connected"
        time.sleep(0.2)
    upload_pyramid(settings, asset, write_pyramid(gradient_image(640, 480), tmp_path / "b.tif"))
    # the new object alone changes nothing: the caches still answer with the old pyramid
    assert requests.get(tile_url, timeout=10).content in old_tiles
    event = Event("media.derivative_ready", {"asset_id": asset, "width": 640}, "media")
    with Connection(settings.amqp_uri) as conn:
        conn.Producer().publish(
            event.to_dict(),
            exchange=events_exchange,
            routing_key=event.routing_key,
            serializer="json",
            declare=[events_exchange],
        )
    deadline = time.monotonic() + 15
    widths: set[int] = set()
    tiles: set[bytes] = set()
    while time.monotonic() < deadline:
        widths = {requests.get(info_url, timeout=10).json()["width"] for _ in range(6)}
        tiles = {requests.get(tile_url, timeout=10).content for _ in range(6)}
        if widths == {640} and not tiles & old_tiles:
            break
        time.sleep(0.2)
    assert widths == {640}
    assert len(tiles) == 1 and not tiles & old_tiles, "a worker kept the old rendered tile"


def test_the_source_cache_stays_within_its_disk_budget(
    test_env, imageserver_assets, tmp_path: Path
) -> None:
    """Pyramids fetched from S3 are kept on disk within ``source_cache_mb``, least recently used
    out first; an evicted one is fetched again when asked for."""
    from tests.integration.imageserver.support import VALIDATOR_ID

    budget = 1024 * 1024
    sizes = {asset: path.stat().st_size for asset, path in imageserver_assets.items()}
    assert sizes[ASSET] + sizes[VALIDATOR_ID] > budget  # the two do not fit together
    server = ServerProcess(
        test_env,
        tmp_path,
        DISAN_IMAGESERVER_SOURCE_CACHE_MB="1",
        # an open handle is checked against the cache at every request, whichever worker
        DISAN_IMAGESERVER_HANDLE_TTL_SECONDS="0",
        DISAN_IMAGESERVER_PURGE_EVENTS="false",
    )
    sources = tmp_path / "sources"
    server.start()
    try:
        for asset in (VALIDATOR_ID, ASSET, VALIDATOR_ID, ASSET):
            tile = f"{server.url}{PREFIX}/{asset}/0,0,512,512/64,/0/default.jpg"
            assert requests.get(tile, timeout=30).status_code == 200
            kept = {path.stat().st_size for path in sources.glob("*.tif")}
            assert kept == {sizes[asset]}, "only the pyramid used last fits the budget"
        assert not list(sources.glob("*.part")), "no partial download is left behind"
    finally:
        server.stop()


def test_a_forged_host_cannot_change_a_cached_id(
    test_env, imageserver_assets, tmp_path: Path
) -> None:
    """Issue #14: with no ``imageserver.public_base_url``, ids come from DISAN_PUBLIC_URL, so
    a forged ``Host``/``X-Forwarded-Host`` asked first (what a shared cache would keep for a
    day) gets the same document, ETag included, as everyone else."""
    server = ServerProcess(
        test_env,
        tmp_path,
        DISAN_PUBLIC_URL="https://heritage.example",
        DISAN_IMAGESERVER_PUBLIC_BASE_URL="",
        DISAN_IMAGESERVER_PURGE_EVENTS="false",
    )
    server.start()
    try:
        forged = {
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        }
        for version, key in ((3, "id"), (2, "@id")):
            url = f"{server.url}/iiif/image/{version}/{ASSET}/info.json"
            first = requests.get(url, headers=forged, timeout=10)
            assert first.status_code == 200
            assert first.headers["Cache-Control"].startswith("public")
            expected = f"https://heritage.example/iiif/image/{version}/{ASSET}"
            assert first.json()[key] == expected
            plain = requests.get(url, timeout=10)
            assert plain.content == first.content
            assert plain.headers["ETag"] == first.headers["ETag"]
        tile = f"{server.url}{PREFIX}/{ASSET}/full/64,/0/default.jpg"
        link = requests.get(tile, headers=forged, timeout=10).headers["Link"]
        assert link.startswith("<https://heritage.example/iiif/image/3/")
    finally:
        server.stop()


def test_sigterm_stops_the_server_promptly(
    settings, test_env, imageserver_assets, tmp_path: Path
) -> None:
    server = ServerProcess(
        test_env, tmp_path, DISAN_IMAGESERVER_WORKERS="1", DISAN_IMAGESERVER_PURGE_EVENTS="false"
    )
    server.start()
    assert requests.get(f"{server.url}{PREFIX}/{ASSET}/info.json", timeout=10).ok
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 15


def test_the_runner_runs_it_as_a_process_service(
    test_env, imageserver_assets, tmp_path: Path
) -> None:
    """What ``disan service run imageserver`` does once SERVICES lists it."""
    import signal
    import subprocess
    import sys

    server = ServerProcess(test_env, tmp_path, DISAN_IMAGESERVER_PURGE_EVENTS="false")
    code = (
        "from shared.config import load_settings\n"
        "from shared.runner import ServiceSpec, run_service\n"
        "run_service(ServiceSpec('imageserver', 'services.imageserver.server:main',"
        " kind='process'), load_settings())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=server.env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{server.url}/iiif/image/3/{ASSET}/info.json", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
