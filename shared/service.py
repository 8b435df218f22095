"""What every Disan service has: settings, metrics, correlation ids, and an ops port."""

from __future__ import annotations

import uuid
from typing import Any

from nameko.extensions import DependencyProvider

from shared.config import Settings
from shared.idempotency import KeySweeper, RequestKey
from shared.logs import set_correlation_id
from shared.metrics import Metrics
from shared.ops import OpsServer


class SettingsProvider(DependencyProvider):  # type: ignore[misc]
    """The validated settings the runner put into the container's config."""

    def get_dependency(self, worker_ctx: Any) -> Settings:
        settings: Settings = self.container.config["DISAN_SETTINGS"]
        return settings


def _correlation_from(worker_ctx: Any) -> str:
    data = worker_ctx.data or {}
    cid = data.get("correlation_id")
    if not cid and worker_ctx.args:
        body = worker_ctx.args[0]
        if isinstance(body, dict):
            cid = body.get("correlation_id")
    return str(cid) if cid else str(uuid.uuid4())


class Correlation(DependencyProvider):  # type: ignore[misc]
    """Gives each worker the correlation id of the call or event that started it."""

    def worker_setup(self, worker_ctx: Any) -> None:
        cid = _correlation_from(worker_ctx)
        worker_ctx.data["correlation_id"] = cid
        set_correlation_id(cid)

    def worker_teardown(self, worker_ctx: Any) -> None:
        set_correlation_id(None)

    def get_dependency(self, worker_ctx: Any) -> str:
        return str(worker_ctx.data.get("correlation_id", ""))


class DisanService:
    """Base of every service class: subclasses add a ``name`` and their entrypoints."""

    name: str
    settings = SettingsProvider()
    metrics = Metrics()
    correlation = Correlation()
    request_key = RequestKey()  # the idempotency key of the RPC call (shared.idempotency)
    key_sweeper = KeySweeper()  # forgets remembered requests after a week
    ops = OpsServer()
