"""The image server as a real process against the real S3 (moto) and RabbitMQ of the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.imageserver.support import (
    VALIDATOR_ID,
    ServerProcess,
    gradient_image,
    upload_pyramid,
    validator_image,
    write_pyramid,
)

#: The main test image: 3000x2000, 512-px tiles, pages 3000x2000 ... 187x125.
ASSET = "c0ffee00-0000-4000-8000-000000000001"
WIDTH, HEIGHT = 3000, 2000


@pytest.fixture(scope="session")
def imageserver_assets(settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pyramids")
    main = write_pyramid(gradient_image(WIDTH, HEIGHT), folder / "main.tif")
    validator = write_pyramid(validator_image(), folder / "validator.tif")
    upload_pyramid(settings, ASSET, main)
    upload_pyramid(settings, VALIDATOR_ID, validator)
    return {ASSET: main, VALIDATOR_ID: validator}


@pytest.fixture(scope="session")
def imageserver(
    settings, test_env, imageserver_assets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server = ServerProcess(test_env, tmp_path_factory.mktemp("imageserver-cache"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
