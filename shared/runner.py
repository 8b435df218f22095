"""Run one Disan service in this process, configured from the one config file.

``disan service run NAME`` ends here: it loads and validates the settings (refusing to start on a
missing secret), sets up JSON logging, and runs the service's nameko container until SIGTERM. The
list of services is ``disan.registry.SERVICES``, in the composition root: the kernel names none.
"""

from __future__ import annotations

import importlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    """Where a service lives: its class, its schema and migrations, its ports.

    ``kind`` is ``nameko`` (``target`` names the service class) or ``process`` (``target`` names
    a ``main(settings)`` function that serves until SIGTERM, e.g. the image server).
    """

    name: str
    target: str  # "module:attribute"
    schema: str | None = None
    http: bool = False
    kind: str = "nameko"

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    @property
    def migrations(self) -> Path:
        return ROOT / "services" / self.name / "migrations"


def nameko_config(
    settings: Settings, service: str, http: bool = False, max_workers: int = 10
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "AMQP_URI": settings.amqp_uri,
        "DISAN_SETTINGS": settings,
        "max_workers": max_workers,
        "parent_calls_tracked": 10,
        "serializer": "json",
        "HEARTBEAT": 60,
    }
    if http:
        port = settings.ports.http.get(service, 0)
        config["WEB_SERVER_ADDRESS"] = f"{settings.bind_host}:{port}"
    return config


def run_service(spec: ServiceSpec, settings: Settings) -> None:
    """Start the service's container and block until SIGTERM or SIGINT."""
    if spec.kind == "process":
        spec.load()(settings)
        return
    import eventlet
    from nameko.runners import ServiceRunner

    runner = ServiceRunner(nameko_config(settings, spec.name, spec.http))
    runner.add_service(spec.load())

    def shutdown(signum: int, frame: Any) -> None:
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    log.info("service %s started", spec.name, extra={"settings": settings.redacted()})
    runner.wait()
    log.info("service %s stopped", spec.name)
