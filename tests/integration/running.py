"""The platform's services as real nameko containers for integration tests (PostgreSQL,
RabbitMQ, Redis, S3), under names, schemas and a Redis prefix unique to one test module.

Every suite that needs running services starts them here, so they are declared, configured and
cleaned up one way: each service's schema migrated, its handler queues declared before it
starts (events committed meanwhile are kept), the containers told each other's names, and on
``stop`` the containers stopped, their queues deleted and their schemas dropped.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any

import requests
from kombu import Connection, Queue
from nameko.containers import ServiceContainer
from sqlalchemy import text

from disan.registry import SERVICES
from services.access.service import AccessService
from services.catalogue.service import CatalogueService
from services.gateway.service import GatewayService
from services.iiif.service import IiifService
from services.media.service import MediaService
from shared.bus import events_exchange
from shared.consumer import handler_queues
from shared.db import Database, make_engine, migrate
from shared.outbox import OutboxRelay
from shared.runner import nameko_config
from tests.conftest import free_port
from tests.integration.conftest import wait_until

ADMIN_PASSWORD = "Adm1n-pass-for-tests-7f3a"
BASES: dict[str, type] = {
    "access": AccessService,
    "catalogue": CatalogueService,
    "media": MediaService,
    "iiif": IiifService,
}
#: how each service finds the others (``DISAN_<SERVICE>_SERVICE``)
ROUTING = ("access", "catalogue", "media")


def module_settings(settings: Any, unique: str, **access: Any) -> Any:
    """The session's settings with an access configuration of this module's own: its Redis
    prefix, a known first administrator, rate limits no test trips by accident."""
    values: dict[str, Any] = {
        "redis_prefix": f"test:{unique}:",
        "admin_user": "admin",
        "admin_password": ADMIN_PASSWORD,
        "login_per_minute": 1000,
        "public_per_minute": 100_000,
        "api_key_per_minute": 100_000,
    }
    conf = dataclasses.replace(settings.access, **(values | access))
    return dataclasses.replace(settings, access=conf)


class Services:
    """Containers of one test module; ``names[service]`` is both its nameko name and schema."""

    def __init__(self, settings: Any, extra: dict[str, Any] | None = None, **access: Any) -> None:
        """``access`` overrides this module's access settings (``module_settings``), ``extra``
        adds per-service sections to ``settings.extra``."""
        self.unique = "t" + uuid.uuid4().hex[:10]
        settings = module_settings(settings, self.unique, **access)
        if extra:
            sections = dict(settings.extra or {})
            for section, values in extra.items():
                sections[section] = dict(sections.get(section) or {}) | values
            settings = dataclasses.replace(settings, extra=sections)
        self.settings = settings
        self.names: dict[str, str] = {}
        self.classes: dict[str, type] = {}
        self.containers: dict[str, ServiceContainer] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.base = ""
        self._sinks: list[Queue] = []

    def start(
        self,
        services: Iterable[str],
        *,
        gateway: type | None = GatewayService,
        config: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Services:
        """Migrate, declare and start ``services`` (then the gateway, when given), in order.
        ``names`` overrides a service's nameko name (its schema stays unique)."""
        services = list(services)
        for service in services:
            schema = f"{self.unique}_{service}"
            name = (names or {}).get(service, schema)
            migrate(self.settings.database_url, schema, SERVICES[service].migrations)
            self.names[service] = name
            self.classes[service] = type(
                f"Test{BASES[service].__name__}",
                (BASES[service],),
                {"name": name, "db": Database(schema), "relay": OutboxRelay(schema)},
            )
            with Connection(self.settings.amqp_uri) as conn:
                for queue in handler_queues(name, self.classes[service]):
                    queue.bind(conn.default_channel).declare()
        for service in services:
            self.configs[service] = self._config(self.names[service], config)
            self.start_again(service)
        if gateway is not None:
            name = f"{self.unique}_gateway"
            cls = type("TestGatewayService", (gateway,), {"name": name})
            gateway_config = self._config(name, config)
            port = free_port()
            gateway_config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{port}"
            self.base = f"http://127.0.0.1:{port}"
            self.containers["gateway"] = ServiceContainer(cls, gateway_config)
            self.containers["gateway"].start()
            wait_until(lambda: requests.get(f"{self.base}/healthz", timeout=5).ok, timeout=20)
        return self

    def _config(self, name: str, extra: dict[str, Any] | None) -> dict[str, Any]:
        config = nameko_config(self.settings, name)
        config["DISAN_OPS_PORT"] = 0
        for service in ROUTING:
            if service in self.names:
                config[f"DISAN_{service.upper()}_SERVICE"] = self.names[service]
        config.update(extra or {})
        return config

    def start_again(self, service: str) -> ServiceContainer:
        """A new container of ``service`` (after a test stopped or killed it)."""
        container = ServiceContainer(self.classes[service], self.configs[service])
        container.start()
        self.containers[service] = container
        return container

    def schema(self, service: str) -> str:
        return f"{self.unique}_{service}"

    def sink(self, routing_key: str) -> None:
        """Keep this module's events of ``routing_key`` in a queue that goes with it (so they
        do not pile up in ``disan.unrouted`` where no handler is bound)."""
        queue = Queue(
            f"disan.{self.unique}.sink.{len(self._sinks)}",
            exchange=events_exchange,
            routing_key=routing_key,
            durable=False,
        )
        with Connection(self.settings.amqp_uri) as conn:
            queue.bind(conn.default_channel).declare()
        self._sinks.append(queue)

    def stop(self) -> None:
        for container in reversed(list(self.containers.values())):
            if container.started:
                container.stop()
        with Connection(self.settings.amqp_uri) as conn:
            for queue in self._sinks:
                conn.default_channel.queue_delete(queue.name)
            for service, cls in self.classes.items():
                for queue in handler_queues(self.names[service], cls):
                    try:
                        conn.default_channel.queue_delete(queue.name)
                    except Exception:  # noqa: BLE001 - cleanup best effort
                        pass
        admin = make_engine(self.settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            for service in self.classes:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema(service)}" CASCADE'))
        admin.dispose()
