from __future__ import annotations

import pytest

from services.imageserver.config import ImageServerConfig, load_config
from shared.config import ConfigError


def test_defaults_are_sensible_for_two_cores() -> None:
    config = load_config(None, env={})
    assert config == ImageServerConfig()
    assert config.workers == 2
    assert config.limits.max_area == 25_000_000


def test_environment_overrides_the_config_file_section() -> None:
    config = load_config(
        None,
        env={
            "DISAN_IMAGESERVER_WORKERS": "4",
            "DISAN_IMAGESERVER_MAX_AREA": "1000000",
            "DISAN_IMAGESERVER_PURGE_EVENTS": "false",
            "DISAN_IMAGESERVER_CACHE_DIR": "/var/cache/disan",
        },
    )
    assert config.workers == 4 and config.max_area == 1_000_000
    assert config.purge_events is False
    assert str(config.source_dir) == "/var/cache/disan/sources"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKERS", "0"),
        ("WORKERS", "many"),
        ("JPEG_QUALITY", "101"),
        ("PURGE_EVENTS", "perhaps"),
        ("CONFINED_UPSCALE", "sometimes"),
        ("LIMIT_CONCURRENCY", "0"),
    ],
)
def test_bad_values_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(ConfigError):
        load_config(None, env={f"DISAN_IMAGESERVER_{name}": value})


def test_the_public_base_is_the_platforms_public_url_unless_set() -> None:
    from dataclasses import replace

    from shared.config import load_settings

    settings = load_settings(
        env={
            "DISAN_DATABASE_URL": "postgresql://disan:pw@127.0.0.1:5432/disan",
            "DISAN_S3_ACCESS_KEY": "ak",
            "DISAN_S3_SECRET_KEY": "sk",
            "DISAN_PUBLIC_URL": "https://heritage.example",
        }
    )
    assert load_config(settings, env={}).public_base_url == "https://heritage.example"
    images = replace(settings, extra={"imageserver": {"public_base_url": "https://img.example"}})
    assert load_config(images, env={}).public_base_url == "https://img.example"
