"""IIIF Auth 2.0 at record level in headless Chromium (ADR 0035): a viewer page on another
origin meets a restricted record, finds the probe in the manifest's refusal, opens the access
service (where the "user" logs in), gets a token from the token service in an iframe by
postMessage, then reads the manifest and loads the thumbnail with the token. Real CORS, real
cookies, real postMessage. Chromium is driven over ``--remote-debugging-pipe`` (the DevTools
protocol on file descriptors 3 and 4, no extra package), only to type the password."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_image_viewer import _chromium
from tests.integration.access.conftest import PASSWORD
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform
from tests.integration.imageserver.support import ServerProcess, free_port

pytestmark = pytest.mark.e2e


class Browser:
    """Headless Chromium and its DevTools protocol over a pipe (JSON messages ending in NUL)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-popup-blocking",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', chromium, *args],
            stdin=to_chrome_r,
            stdout=from_chrome_w,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        command: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._to_chrome, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read()
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})
            self.events.append(message)

    def open(self, url: str) -> str:
        target = self.send("Target.createTarget", url=url)["targetId"]
        return str(self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        return result.get("result", {}).get("value")

    def page_at(self, fragment: str, timeout: float = 20) -> str:
        """A session on the page whose URL contains ``fragment`` (a window a page opened)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for info in self.send("Target.getTargets")["targetInfos"]:
                if info["type"] == "page" and fragment in info["url"]:
                    found = self.send(
                        "Target.attachToTarget", targetId=info["targetId"], flatten=True
                    )
                    return str(found["sessionId"])
            time.sleep(0.2)
        raise AssertionError(f"no window at {fragment}")


VIEWER_JS = """
const PUB = %(public)s, GATEWAY = %(gateway)s, IMAGES = %(images)s, RECORD = %(record)s;
const local = (u) => (u.startsWith(PUB + "/iiif/image/") ? IMAGES : GATEWAY) + u.slice(PUB.length);
const log = (window.__log = []);
const json = async (r) => [r.status, await r.json()];
async function run() {
  const manifestUrl = PUB + "/iiif/presentation/3/records/" + RECORD + "/manifest";
  const [status, refusal] = await json(await fetch(local(manifestUrl)));
  log.push(["manifest", status]);
  const probe = refusal.error.details.service[0];
  const access = probe.service.find((s) => s.type === "AuthAccessService2");
  const tokens = access.service.find((s) => s.type === "AuthAccessTokenService2");
  log.push(["probe", (await json(await fetch(local(probe.id))))[1].status]);
  const win = window.open(local(access.id) + "?origin=" + encodeURIComponent(location.origin));
  await new Promise((done) => {
    const timer = setInterval(() => { if (win.closed) { clearInterval(timer); done(); } }, 100);
  });
  log.push(["access window closed"]);
  const token = await new Promise((done) => {
    window.addEventListener("message", (e) => {
      if (e.data && e.data.messageId === "m1") done(e.data);
    });
    const frame = document.createElement("iframe");
    frame.src = local(tokens.id) + "?messageId=m1&origin=" + encodeURIComponent(location.origin);
    document.body.appendChild(frame);
  });
  log.push(["token", token.type]);
  const auth = { headers: { Authorization: "Bearer " + token.accessToken } };
  log.push(["probe with token", (await json(await fetch(local(probe.id), auth)))[1].status]);
  const [opened, manifest] = await json(await fetch(local(manifestUrl), auth));
  log.push(["manifest with token", opened]);
  const thumb = manifest.thumbnail[0];
  const thumbProbe = thumb.service.find((s) => s.type === "AuthProbeService2");
  log.push(["thumbnail probe", (await json(await fetch(local(thumbProbe.id))))[1].status]);
  const thumbOpen = await json(await fetch(local(thumbProbe.id), auth));
  log.push(["thumbnail probe with token", thumbOpen[1].status]);
  log.push(["image without token", (await fetch(local(thumb.id))).status]);
  const image = await fetch(local(thumb.id), auth);
  const bitmap = await createImageBitmap(await image.blob());
  log.push(["image", image.status, bitmap.width, bitmap.height]);
}
run().catch((e) => log.push(["error", String(e)])).finally(() => { window.__done = true; });
"""


@dataclasses.dataclass
class Site:
    url: str
    folder: Path


@pytest.fixture(scope="module")
def viewer_site(tmp_path_factory: Any) -> Iterator[Site]:
    """A museum's site: a static server on another origin for the viewer page."""
    folder = tmp_path_factory.mktemp("museum")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Site(f"http://127.0.0.1:{port}", folder)
    finally:
        server.kill()
        server.wait(10)


def test_a_browser_viewer_gets_into_a_restricted_record(
    settings: Any, test_env: dict[str, str], viewer_site: Site, tmp_path: Path
) -> None:
    chromium = _chromium()
    extra = {**settings.extra, "iiif_auth": {"origins": [viewer_site.url]}}
    platform, stop = start_annotation_platform(dataclasses.replace(settings, extra=extra))
    images = ServerProcess(
        test_env,
        tmp_path / "images",
        DISAN_IMAGESERVER_ACCESS="policy",
        DISAN_IMAGESERVER_ACCESS_SERVICE=platform.access_name,
        DISAN_IMAGESERVER_ACCESS_CACHE_SECONDS="1",
        DISAN_IMAGESERVER_PURGE_EVENTS="false",
        DISAN_REDIS_PREFIX=platform.prefix,
    )
    images.start()
    browser = Browser(chromium, tmp_path / "profile")
    try:
        record_id, _ = platform.published_with_image(width=320, height=200)
        platform.set_policy("record", record_id, level="restricted", reason="fragile")
        wait_until(
            lambda: platform.iiif_sql(
                "SELECT 1 FROM manifests WHERE record_id = CAST(:r AS uuid) AND NOT public",
                r=record_id,
            ),
            timeout=10,
        )
        time.sleep(1.5)  # policy caches
        page = viewer_site.folder / "viewer.html"
        values = {
            "public": json.dumps(str(platform.settings.public_url).rstrip("/")),
            "gateway": json.dumps(platform.base),
            "images": json.dumps(images.url),
            "record": json.dumps(record_id),
        }
        page.write_text(
            '<!doctype html><meta charset="utf-8"><body><script>'
            + VIEWER_JS % values
            + "</script></body>",
            encoding="utf-8",
        )
        viewer = browser.open(f"{viewer_site.url}/viewer.html")
        # the user logs in in the window the viewer opened (the active access service)
        login = browser.page_at("/iiif/auth/2/access")
        wait_until(
            lambda: browser.evaluate(login, "!!document.querySelector('input[name=password]')"),
            timeout=20,
        )
        platform.token_for("researcher")
        user = json.dumps(platform.users["researcher"]["username"])
        browser.evaluate(
            login,
            f"document.querySelector('input[name=username]').value = {user};"
            f"document.querySelector('input[name=password]').value = {json.dumps(PASSWORD)};"
            "document.querySelector('form').submit(); true",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not browser.evaluate(viewer, "window.__done"):
            time.sleep(0.2)
        log = browser.evaluate(viewer, "window.__log")
        assert browser.evaluate(viewer, "window.__done"), (
            log,
            browser.evaluate(login, "document.body.innerText"),
        )
        assert log == [
            ["manifest", 401],
            ["probe", 401],
            ["access window closed"],
            ["token", "AuthAccessToken2"],
            ["probe with token", 200],
            ["manifest with token", 200],
            ["thumbnail probe", 401],
            ["thumbnail probe with token", 200],
            ["image without token", 401],
            ["image", 200, log[-1][2], log[-1][3]],
        ], log
        assert log[-1][2] > 0 and log[-1][3] > 0
    finally:
        browser.close()
        images.stop()
        stop()
