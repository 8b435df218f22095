"""Deployment files, checked offline: no Docker engine, no cluster, no network."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "disan"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
CONFIG = ROOT / "deploy" / "config" / "disan.yaml"

# What the chart needs from the Secret and compose from the environment, for rendering only.
DUMMY_ENV = {
    "DISAN_DB_PASSWORD": "x",
    "DISAN_RABBITMQ_PASSWORD": "x",
    "DISAN_REDIS_PASSWORD": "x",
    "DISAN_S3_ACCESS_KEY": "x",
    "DISAN_S3_SECRET_KEY": "x",
    "DISAN_TOKEN_SECRET": "x" * 32,
    "DISAN_ADMIN_PASSWORD": "x",
    "DISAN_GRAFANA_PASSWORD": "x",
}


def config_defaults(section: str) -> dict[str, int]:
    """``ports.<section>`` of disan.yaml: service -> default port."""
    text = CONFIG.read_text(encoding="utf-8")
    block = text.split(f"  {section}:\n", 1)[1]
    ports: dict[str, int] = {}
    for line in block.splitlines():
        match = re.match(r"^    (\w+): \$\{\w+:(\d+)\}", line)
        if not match:
            break
        ports[match.group(1)] = int(match.group(2))
    return ports


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def helm() -> Any:
    return pytest.importorskip("helm_python", reason="pip install helm-python-sdk (dev extras)")
