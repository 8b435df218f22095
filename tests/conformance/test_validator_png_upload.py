"""The official IIIF Image API validator against the validator's own test image **uploaded as a
PNG through the public API** (issue 15): the gateway takes the upload, the media service makes
its derivative, and the image server serves it; Image API 3.0 and 2.0, level 2, 0 failures.

Unlike ``test_image_validator.py`` (which stores the pyramid itself), nothing here is written
behind the platform's back: the 17 KB flat-colour PNG must pass the upload checks (a bomb guard
by ratio once refused it) and the derivative pipeline must keep its colours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.test_image_validator import VALIDATE, _missing

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def uploaded(settings: Any, test_env: Any, tmp_path_factory: Any) -> Iterator[tuple[Any, str]]:
    """The image server, and the asset id of the validator's image uploaded as a PNG."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from tests.integration.imageserver.support import ServerProcess, validator_image
    from tests.integration.media.conftest import start_media_platform

    media, stop_media = start_media_platform(settings)
    server = None
    try:
        record_id = media.new_record()
        png = bytes(validator_image().pngsave_buffer(compression=9))
        answer = media.upload(record_id, png, "validator.png")
        assert answer.status_code == 202, answer.text
        asset_id = str(answer.json()["asset_id"])
        asset = media.wait_done(asset_id, timeout=180)
        assert asset["status"] == "ready", asset
        server = ServerProcess(
            test_env,
            tmp_path_factory.mktemp("validator-upload"),
            DISAN_IMAGESERVER_PURGE_EVENTS="false",
        )
        server.start()
        yield server, asset_id
    finally:
        if server is not None:
            server.stop()
        stop_media()


def _validate(server: Any, asset_id: str, version: str, prefix: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            str(VALIDATE),
            "-s",
            f"127.0.0.1:{server.port}",
            "-p",
            prefix,
            "-i",
            asset_id,
            f"--version={version}",
            "--level=2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    return report


def test_image_api_3_level_2_passes_on_the_png_uploaded_through_the_api(uploaded: Any) -> None:
    server, asset_id = uploaded
    assert "0 failures" in _validate(server, asset_id, "3.0", "iiif/image/3")


def test_image_api_2_level_2_passes_on_the_png_uploaded_through_the_api(uploaded: Any) -> None:
    server, asset_id = uploaded
    assert "0 failures" in _validate(server, asset_id, "2.0", "iiif/image/2")
