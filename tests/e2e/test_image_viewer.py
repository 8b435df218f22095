"""OpenSeadragon (npm) in headless Chromium opens a derivative's info.json from the image
server and renders its tiles; the screenshot must show the image, not a blank page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageStat

pytestmark = pytest.mark.e2e

E2E = Path(__file__).resolve().parent
OSD = E2E / "node_modules" / "openseadragon" / "build" / "openseadragon" / "openseadragon.min.js"
ASSET = "e2e00000-0000-4000-8000-00000000a5e7"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300)
            subprocess.run(install, env=env, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("headless Chromium is not installed (Debian package chromium)")
    return found


def headless_chromium(
    chromium: str,
    page: Path,
    profile: Path,
    *mode: str,
    window: str = "800,600",
    budget_ms: int = 8000,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Open a local page in headless Chromium (``mode``: ``--screenshot=…``, ``--dump-dom``)."""
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            f"--window-size={window}",
            f"--virtual-time-budget={budget_ms}",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _openseadragon() -> Path:
    """OpenSeadragon from npm, into the git-ignored tests/e2e/node_modules when missing."""
    if not OSD.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (Debian package npm), needed for OpenSeadragon")
        result = subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-package-lock",
                "--prefix",
                str(E2E),
                "openseadragon",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0 or not OSD.exists():
            pytest.skip(f"npm install openseadragon failed: {result.stderr[-500:]}")
    return OSD


@pytest.fixture(scope="module")
def viewer_server(settings, test_env, tmp_path_factory) -> Iterator[object]:
    from tests.integration.imageserver.support import (
        ServerProcess,
        gradient_image,
        upload_pyramid,
        write_pyramid,
    )

    folder = tmp_path_factory.mktemp("viewer")
    upload_pyramid(settings, ASSET, write_pyramid(gradient_image(4000, 3000), folder / "p.tif"))
    server = ServerProcess(test_env, folder / "cache", DISAN_IMAGESERVER_PURGE_EVENTS="false")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _tiles_served(server: object) -> float:
    ops = f"http://127.0.0.1:{server.ops_port}/metrics"  # type: ignore[attr-defined]
    total = 0.0
    for line in requests.get(ops, timeout=5).text.splitlines():
        if line.startswith("disan_imageserver_images_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_openseadragon_renders_tiles_from_info_json(viewer_server: object, tmp_path: Path) -> None:
    chromium = _chromium()
    osd = _openseadragon()
    info = f"{viewer_server.url}/iiif/image/3/{ASSET}/info.json"  # type: ignore[attr-defined]
    page = tmp_path / "viewer.html"
    page.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<style>html,body,#v{{margin:0;width:100%;height:100%;background:#000}}</style>
<script src="{osd.as_uri()}"></script></head><body><div id="v"></div>
<script>
OpenSeadragon({{id: "v", tileSources: {json.dumps(info)}, showNavigationControl: false,
  animationTime: 0, blendTime: 0, immediateRender: true, crossOriginPolicy: "Anonymous"}});
</script></body></html>""",
        encoding="utf-8",
    )
    shot = tmp_path / "shot.png"
    before = _tiles_served(viewer_server)
    headless_chromium(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.exists(), "Chromium wrote no screenshot"
    assert _tiles_served(viewer_server) > before, "the viewer fetched no tile"
    image = Image.open(shot).convert("RGB")
    stats = ImageStat.Stat(image)
    assert max(stats.stddev) > 20, f"the screenshot is blank (stddev {stats.stddev})"
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 1000, "the screenshot has too few colours to be the image"
    # the gradient's corners: dark top-left, red at the top right (black is OSD's background)
    assert sum(stats.mean) > 60
