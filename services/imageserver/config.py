"""Image server settings: the ``imageserver`` section of ``extra`` in the config file, overridden
by ``DISAN_IMAGESERVER_*`` environment variables, validated at start-up."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from iiif.image import Limits
from shared.config import ConfigError, Settings

ENV_PREFIX = "DISAN_IMAGESERVER_"


@dataclass(frozen=True)
class ImageServerConfig:
    """Tunables of the image server (see services/imageserver/README.md)."""

    workers: int = 2
    render_threads: int = 3
    cache_dir: str = ""
    source_cache_mb: int = 2048
    tile_cache_mb: int = 128
    max_width: int = 10000
    max_height: int = 10000
    max_area: int = 25_000_000
    jpeg_quality: int = 85
    public_max_age: int = 2_592_000
    info_max_age: int = 86_400
    public_base_url: str = ""
    handle_ttl_seconds: float = 30.0
    not_found_ttl_seconds: float = 2.0
    limit_concurrency: int = 2000
    backlog: int = 2048
    keep_alive_seconds: int = 5
    purge_events: bool = True
    confined_upscale: str = "refuse"
    # glibc: blocks from this size up are mmapped and returned to the OS when freed (0: glibc's
    # own sliding threshold, which keeps freed tile buffers resident)
    malloc_mmap_threshold_kb: int = 128
    access: str = "policy"  # "policy": ask the access service; "public": every asset is public
    access_service: str = "access"  # nameko name of the access service
    access_cache_seconds: float = 2.0  # how long a policy, session or decision is kept

    @property
    def limits(self) -> Limits:
        return Limits(max_width=self.max_width, max_height=self.max_height, max_area=self.max_area)

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir or Path(tempfile.gettempdir()) / "disan-imageserver")

    @property
    def source_dir(self) -> Path:
        return self.cache_path / "sources"


def _coerce(name: str, default: Any, raw: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text in ("true", "1", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"imageserver.{name}: cannot use {raw!r}") from None


def load_config(
    settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> ImageServerConfig:
    """Build the config from ``settings.extra['imageserver']`` and the environment."""
    env = os.environ if env is None else env
    section: Mapping[str, Any] = {}
    if settings is not None:
        section = settings.extra.get("imageserver") or {}
    values: dict[str, Any] = {}
    for item in fields(ImageServerConfig):
        default = item.default
        raw = env.get(ENV_PREFIX + item.name.upper())
        if raw is None or raw == "":
            raw = section.get(item.name)
        if raw is not None:
            values[item.name] = _coerce(item.name, default, raw)
    if not values.get("public_base_url") and settings is not None:
        # ids and links always come from the configured public URL, never from request
        # headers (ADR 0024): the image server's own base, else the platform's DISAN_PUBLIC_URL
        values["public_base_url"] = settings.public_url
    config = ImageServerConfig(**values)
    for name in (
        "workers",
        "render_threads",
        "max_width",
        "max_height",
        "max_area",
        "limit_concurrency",
        "backlog",
    ):
        if getattr(config, name) < 1:
            raise ConfigError(f"imageserver.{name} must be at least 1")
    if not 1 <= config.jpeg_quality <= 100:
        raise ConfigError("imageserver.jpeg_quality must be within 1..100")
    if config.confined_upscale not in ("refuse", "clamp"):
        raise ConfigError("imageserver.confined_upscale must be 'refuse' or 'clamp'")
    if not 0 <= config.malloc_mmap_threshold_kb <= 32 * 1024:
        raise ConfigError("imageserver.malloc_mmap_threshold_kb must be within 0..32768")
    if config.access not in ("policy", "public"):
        raise ConfigError("imageserver.access must be 'policy' or 'public'")
    if not 0 <= config.access_cache_seconds <= 10:
        raise ConfigError("imageserver.access_cache_seconds must be within 0..10")
    if config.source_cache_mb < 1 or config.tile_cache_mb < 0:
        raise ConfigError("imageserver cache sizes must be positive")
    return config
