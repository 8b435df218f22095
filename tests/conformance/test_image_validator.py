"""The official IIIF Image API validator (PyPI ``iiif-validator``) against the running server.

Served image: the validator's own 1000x1000 test image, regenerated pixel-exactly from its
colour table and stored as the media service stores derivatives (pyramidal JPEG TIFF).
"""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.conformance

VALIDATE = Path(sys.executable).parent / "iiif-validate.py"


def _missing() -> str | None:
    if ctypes.util.find_library("magic") is None:
        return "libmagic is not installed (Debian package libmagic1), iiif-validator needs it"
    try:
        import iiif_validator  # noqa: F401
    except ImportError as exc:
        return f"iiif-validator cannot be imported: {exc}"
    if not VALIDATE.exists():
        return f"{VALIDATE} is missing (pip install iiif-validator)"
    return None


@pytest.fixture(scope="module")
def validator_server(settings, test_env, tmp_path_factory) -> Iterator[object]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from tests.integration.imageserver.support import (
        VALIDATOR_ID,
        ServerProcess,
        upload_pyramid,
        validator_image,
        write_pyramid,
    )

    folder = tmp_path_factory.mktemp("validator")
    upload_pyramid(settings, VALIDATOR_ID, write_pyramid(validator_image(), folder / "v.tif"))
    server = ServerProcess(test_env, folder / "cache", DISAN_IMAGESERVER_PURGE_EVENTS="false")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _validate(
    server: object, version: str, prefix: str, level: int
) -> subprocess.CompletedProcess[str]:
    from tests.integration.imageserver.support import VALIDATOR_ID

    return subprocess.run(
        [
            sys.executable,
            str(VALIDATE),
            "-s",
            f"127.0.0.1:{server.port}",  # type: ignore[attr-defined]
            "-p",
            prefix,
            "-i",
            VALIDATOR_ID,
            f"--version={version}",
            f"--level={level}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_level_2_test_of_image_api_3_passes(validator_server: object) -> None:
    result = _validate(validator_server, "3.0", "iiif/image/3", 2)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Done (33 tests, 0 failures)" in report, report


def test_every_level_2_test_of_image_api_2_passes(validator_server: object) -> None:
    result = _validate(validator_server, "2.0", "iiif/image/2", 2)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report


def test_the_validator_image_is_pixel_exact() -> None:
    if _missing():
        pytest.skip(_missing() or "")
    from iiif_validator.validator import ValidationInfo

    from tests.integration.imageserver.support import validator_image

    image = validator_image()
    colours = ValidationInfo().colorInfo
    assert (image.width, image.height, image.bands) == (1000, 1000, 3)
    for column in range(10):
        for row in range(10):
            for dx, dy in ((0, 0), (99, 99), (50, 7)):
                pixel = image(column * 100 + dx, row * 100 + dy)
                assert tuple(int(v) for v in pixel) == colours[column][row]
