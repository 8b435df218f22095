"""Debian packages the platform (and its tests) need beyond the infrastructure."""

from __future__ import annotations

import shutil
from pathlib import Path

from disan.cli import infra
from disan.cli.nginx import NGINX

# Tools beyond the infrastructure, as (command or file that shows it is there, Debian package).
# The platform runs with: the nginx front; ffmpeg (ffprobe) and poppler-utils for the media
# service's audio, video and PDF derivatives.
RUNTIME_TOOLS = (
    (NGINX, "nginx"),
    ("ffprobe", "ffmpeg"),
    ("pdftoppm", "poppler-utils"),
)
# The tests also need: docker-compose (v1) to validate the compose file without a Docker engine,
# libmagic for the IIIF validator, a browser and npm for the e2e tests.
TEST_TOOLS = RUNTIME_TOOLS + (
    ("docker-compose", "docker-compose"),
    ("libmagic1", "libmagic1"),
    ("chromium", "chromium"),
    ("npm", "npm"),
)


def install_missing(tools: tuple[tuple[str, str], ...]) -> None:
    missing = [package for probe, package in tools if _missing(probe)]
    if missing:
        infra.apt_install(*missing)


def _missing(probe: str) -> bool:
    """A path must exist, a library package be installed, a command be on PATH."""
    if probe.startswith("/"):
        return not Path(probe).exists()
    if probe.startswith("lib"):
        return not infra.dpkg_installed(probe)
    return shutil.which(probe) is None
