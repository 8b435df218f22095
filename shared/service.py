"""What every Disan service has: settings, metrics, correlation ids, and an ops port."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from shared.config import Settings
from shared.logs import Correlation
from shared.metrics import Metrics
from shared.ops import OpsServer


class SettingsProvider(DependencyProvider):  # type: ignore[misc]
    """The validated settings the runner put into the container's config."""

    def get_dependency(self, worker_ctx: Any) -> Settings:
        settings: Settings = self.container.config["DISAN_SETTINGS"]
        return settings


class DisanService:
    """Base of every service class: subclasses add a ``name`` and their entrypoints."""

    name: str
    settings = SettingsProvider()
    metrics = Metrics()
    correlation = Correlation()
    ops = OpsServer()
