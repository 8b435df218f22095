"""Mirador 4 (npm) in headless Chromium opens a manifest the platform serves, shows the deep-zoom
image and a researcher's public annotation.

The whole stack runs as a user starts it (``disan up`` on ports of its own, nginx in front, so
the manifest's image service and annotation pages resolve); through the public API a record
gets an image, is published, and a researcher annotates a region of its canvas. Two Chromium
runs follow: ``--dump-dom`` (the annotation's text is in Mirador's annotation panel) and a
screenshot (the image is there, not a blank page, and the annotation's outline is drawn in
one of Mirador's annotation colours over a grey image that has no colour at all).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw, ImageStat

from disan.cli.infra import psql_superuser
from disan.registry import SERVICES
from tests.conftest import free_port
from tests.e2e.test_image_viewer import _chromium, headless_chromium
from tests.integration.catalogue.conftest import record_body

# npm install (first run), `disan up` and a browser: well beyond the suite's 300 s per test.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

E2E = Path(__file__).resolve().parent
MIRADOR = E2E / "node_modules" / "mirador" / "dist" / "mirador.min.js"
DISAN = str(Path(sys.executable).parent / "disan")
PASSWORD = "mirador e2e researcher password"
NOTE = "Bia đá thời Lê: chữ Hán khắc năm 1740"
ANNO_TYPE = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'


def _mirador() -> Path:
    """Mirador 4 from npm, into the git-ignored tests/e2e/node_modules when missing."""
    if not MIRADOR.exists():
        npm = "npm"
        result = subprocess.run(
            [npm, "install", "--no-save", "--no-package-lock", "--prefix", str(E2E), "mirador@4"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0 or not MIRADOR.exists():
            pytest.skip(f"npm install mirador@4 failed: {result.stderr[-500:]}")
    return MIRADOR


def _grey_image() -> bytes:
    """A 2000×1500 grey picture (noise, so it is no decompression bomb; no colour at all), so
    the annotation's outline is the only cyan on the screen."""
    noise = Image.effect_noise((2000, 1500), 30).convert("RGB")
    draw = ImageDraw.Draw(noise)
    draw.ellipse([700, 400, 1300, 1100], outline=(230, 230, 230), width=40)
    out = io.BytesIO()
    noise.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``disan up`` with its own ports, database and vhost; ``disan down`` afterwards."""
    ports = {
        "DISAN_FRONT_PORT": free_port(),
        "DISAN_GATEWAY_PORT": free_port(),
        "DISAN_IMAGESERVER_PORT": free_port(),
        **{f"DISAN_OPS_PORT_{name.upper()}": free_port() for name in SERVICES},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISAN_")}
    env |= {k: str(v) for k, v in ports.items()}
    front = f"http://127.0.0.1:{ports['DISAN_FRONT_PORT']}"
    env |= {
        "DISAN_HOME": str(tmp_path_factory.mktemp("mirador-home")),
        "DISAN_DB_NAME": "disan_miradortest",
        "DISAN_AMQP_VHOST": "disan_miradortest",
        "DISAN_S3_ENDPOINT": f"127.0.0.1:{free_port()}",
        "DISAN_PUBLIC_URL": front,
    }
    psql_superuser("DROP DATABASE IF EXISTS disan_miradortest WITH (FORCE)")
    up = subprocess.run(
        [DISAN, "up", "--timeout", "240"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        match = re.search(r"admin\s+(\S+) / (\S+)", up.stdout)
        assert match, up.stdout
        yield {"front": front, "admin": (match.group(1), match.group(2))}
    finally:
        subprocess.run([DISAN, "down"], env=env, capture_output=True, text=True, timeout=300)


def _token(front: str, username: str, password: str) -> str:
    answer = requests.post(
        f"{front}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _user(front: str, admin: str, role: str) -> str:
    name = f"{role}-e2e-{os.getpid()}"
    created = requests.post(
        f"{front}/api/v1/users",
        headers={"Authorization": f"Bearer {admin}"},
        json={"username": name, "password": PASSWORD, "roles": [role]},
        timeout=30,
    )
    assert created.status_code in (201, 409), created.text
    return _token(front, name, PASSWORD)


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s")


@pytest.fixture(scope="module")
def annotated_manifest(stack):
    """A published record with one image and a public annotation; its manifest URL."""
    front = stack["front"]
    admin = _token(front, *stack["admin"])
    cataloguer = _user(front, admin, "cataloguer")
    reviewer = _user(front, admin, "reviewer")
    researcher = _user(front, admin, "researcher")

    def call(method: str, path: str, token: str, **kw):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {token}"} | kw.pop("headers", {})
        return requests.request(method, f"{front}{path}", headers=headers, timeout=120, **kw)

    record = call(
        "POST",
        "/api/v1/records",
        cataloguer,
        json=record_body(
            title={"vi": "Văn bia Mirador", "en": "Mirador stele"},
            description={"vi": "Bản dập văn bia.", "en": "A stele rubbing."},
        ),
    )
    assert record.status_code == 201, record.text
    record_id = record.json()["id"]
    upload = call(
        "POST",
        f"/api/v1/records/{record_id}/media",
        cataloguer,
        files={"file": ("stele.png", _grey_image(), "image/png")},
    )
    assert upload.status_code == 202, upload.text
    asset_id = upload.json()["asset_id"]
    _wait(
        lambda: call("GET", f"/api/v1/media/{asset_id}", cataloguer).json()["status"] == "ready",
        180,
        "derivative ready",
    )
    for action, token in (("submit", cataloguer), ("publish", reviewer)):
        moved = call(
            "POST",
            f"/api/v1/records/{record_id}/transitions",
            token,
            json={"action": action, "comment": "e2e"},
        )
        assert moved.status_code == 200, moved.text
    manifest_url = f"{front}/iiif/presentation/3/records/{record_id}/manifest"

    def manifest():  # type: ignore[no-untyped-def]
        answer = requests.get(manifest_url, timeout=30)
        return answer.ok and answer.json().get("items") and answer.json()

    canvas = _wait(manifest, 60, "manifest with a canvas")["items"][0]["id"]
    annotation = {
        "@context": "http://www.w3.org/ns/anno.jsonld",
        "type": "Annotation",
        "motivation": "commenting",
        "body": {"type": "TextualBody", "value": NOTE, "language": "vi", "format": "text/plain"},
        "target": f"{canvas}#xywh=400,300,1200,900",
        "visibility": "public",
    }
    created = call(
        "POST",
        f"/iiif/annotations/3/records/{record_id}",
        researcher,
        data=json.dumps(annotation),
        headers={"Content-Type": ANNO_TYPE},
    )
    assert created.status_code == 201, created.text

    def listed():  # type: ignore[no-untyped-def]
        doc = requests.get(manifest_url, timeout=30).json()
        return doc["items"][0].get("annotations") and doc

    doc = _wait(listed, 30, "the manifest lists the canvas's annotation page")
    page = requests.get(doc["items"][0]["annotations"][0]["id"], timeout=30)
    assert page.status_code == 200 and NOTE in page.text
    return manifest_url


def _chrome(chromium: str, tmp: Path, page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    return headless_chromium(
        chromium, page, tmp / "profile", *mode, window="1280,900", budget_ms=20000, timeout=240
    )


def _annotation_hue(r: int, g: int, b: int) -> bool:
    """A pixel of one of Mirador's annotation colours, alone or blended with grey."""
    cyan = b - r > 60 and g - r > 60 and g > 0.65 * b
    magenta = r - g > 50 and b - g > 50
    yellow = r - b > 50 and g - b > 50
    return cyan or magenta or yellow


def test_annotation_hue_tells_the_outline_from_grey_and_interface_colours() -> None:
    for colour in ((0, 191, 255), (191, 0, 255), (255, 255, 0)):
        assert _annotation_hue(*colour)
        # drawn between two pixels: half the colour, half the grey image under it
        assert _annotation_hue(*((c + 128) // 2 for c in colour)), colour  # type: ignore[misc]
    for colour in ((128, 128, 128), (230, 230, 230), (25, 103, 210), (255, 255, 255), (0, 0, 0)):
        assert not _annotation_hue(*colour), colour


def test_mirador_shows_the_deep_zoom_image_and_the_public_annotation(
    annotated_manifest: str, tmp_path: Path
) -> None:
    chromium = _chromium()
    mirador = _mirador()
    page = tmp_path / "mirador.html"
    config = {
        "id": "viewer",
        "windows": [
            {
                "manifestId": annotated_manifest,
                "highlightAllAnnotations": True,
                "sideBarOpen": True,
                "defaultSideBarPanel": "annotations",
            }
        ],
        "window": {
            "highlightAllAnnotations": True,
            "sideBarOpenByDefault": True,
            "defaultSideBarPanel": "annotations",
            "allowClose": False,
        },
        "workspaceControlPanel": {"enabled": False},
        "osdConfig": {"animationTime": 0, "blendTime": 0, "immediateRender": True},
    }
    page.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<style>html,body,#viewer{{margin:0;width:100%;height:100%}}</style>
<script src="{mirador.as_uri()}"></script></head><body><div id="viewer"></div>
<script>Mirador.viewer({json.dumps(config)});</script></body></html>""",
        encoding="utf-8",
    )
    dom = _chrome(chromium, tmp_path, page, "--dump-dom")
    assert NOTE in dom.stdout, "the annotation's text is not in Mirador's page"
    # the window title: the manifest's label in the viewer's language (vi or en)
    assert "Văn bia Mirador" in dom.stdout or "Mirador stele" in dom.stdout, "no manifest label"

    shot = tmp_path / "mirador.png"
    _chrome(chromium, tmp_path, page, f"--screenshot={shot}")
    assert shot.exists(), "Chromium wrote no screenshot"
    image = Image.open(shot).convert("RGB")
    stats = ImageStat.Stat(image)
    assert max(stats.stddev) > 20, f"the screenshot is blank (stddev {stats.stddev})"
    # the image: the light ellipse and the grey bands of the source, rendered as tiles
    greys = sum(
        n
        for n, (r, g, b) in image.getcolors(maxcolors=2_000_000) or []
        if abs(r - g) < 6 and abs(g - b) < 6 and 50 < r < 240
    )
    assert greys > 50_000, f"too few grey pixels ({greys}): the deep-zoom image is not shown"
    # the annotation's outline, in one of Mirador's annotation colours: #00BFFF (default),
    # #BF00FF (highlighted: "highlight all"), #FFFF00 (selected). The source image is grey and
    # Mirador's own interface has none of these hues (its blue #1967D2 has green at half of its
    # blue). The outline is one pixel wide: drawn between two pixel rows it is blended half and
    # half with the grey under it, so the test looks at hue and chroma, not at exact values.
    colours = image.getcolors(maxcolors=2_000_000) or []
    outline = sum(n for n, rgb in colours if _annotation_hue(*rgb))
    # the 1200×900 region is a rectangle of about 1,900 pixels' perimeter on this screen
    assert outline > 800, f"no annotation outline drawn ({outline} pixels)"
