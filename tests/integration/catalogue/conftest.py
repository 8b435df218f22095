"""A running access service, catalogue and gateway (real nameko containers, PostgreSQL,
RabbitMQ, Redis), called over real HTTP. Names, schemas and Redis prefix are unique per module,
so concurrent runs on one machine do not see each other's records.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
import requests
from kombu import Connection, Queue
from nameko.containers import ServiceContainer
from sqlalchemy import text

from services.access.service import AccessService
from services.catalogue.service import CatalogueService
from services.gateway.service import GatewayService
from shared.bus import events_exchange
from shared.consumer import handler_queues
from shared.db import Database, make_engine, migrate
from shared.outbox import OutboxRelay
from shared.runner import SERVICES, nameko_config
from tests.conftest import free_port
from tests.integration.access.conftest import ADMIN_PASSWORD, Platform
from tests.integration.conftest import wait_until


class CataloguePlatform(Platform):
    """The access test platform plus the catalogue's name, schema and a few helpers."""

    catalogue_name: str
    catalogue_schema: str
    catalogue_engine: Any

    def create(self, record: dict[str, Any], role: str = "cataloguer") -> dict[str, Any]:
        answer = self.request("POST", "/api/v1/records", token=self.token_for(role), json=record)
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def move(self, record_id: str, action: str, role: str, comment: str = "ok") -> Any:
        return self.request(
            "POST",
            f"/api/v1/records/{record_id}/transitions",
            token=self.token_for(role),
            json={"action": action, "comment": comment},
        )

    def publish(self, record_id: str) -> dict[str, Any]:
        assert self.move(record_id, "submit", "cataloguer").status_code == 200
        answer = self.move(record_id, "publish", "reviewer")
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def catalogue_sql(self, statement: str, **params: Any) -> list[Any]:
        with self.catalogue_engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    def outbox(self, event_type: str) -> list[dict[str, Any]]:
        rows = self.catalogue_sql(
            "SELECT envelope FROM outbox WHERE type = :t ORDER BY id", t=event_type
        )
        return [r[0] for r in rows]


def record_body(**overrides: Any) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:8].upper()
    body: dict[str, Any] = {
        "inventory_number": f"T-{unique}",
        "heritage_class": "tangible_site",
        "heritage_type": "temple",
        "title": {"vi": f"Đền thử nghiệm {unique}", "en": f"Test temple {unique}"},
        "description": {"vi": "Một ngôi đền để thử.", "en": "A temple for tests."},
        "rank": {"level": "city", "decision": {"number": "12/QĐ-UBND", "date": "2019-05-02"}},
        "location": {"lat": 20.85, "lon": 106.68, "approximate": True},
        "address": {"district_pre2025": "le_chan", "province_pre2025": "hai_phong"},
        "sources": [{"citation": "test fixture"}],
    }
    body.update(overrides)
    return body


def start_catalogue_platform(settings: Any) -> tuple[CataloguePlatform, Any]:
    unique = "t" + uuid.uuid4().hex[:10]
    access_schema, catalogue_schema = f"{unique}_access", f"{unique}_catalogue"
    access_name, catalogue_name = f"{unique}_access", f"{unique}_catalogue"
    conf = dataclasses.replace(
        settings.access,
        redis_prefix=f"test:{unique}:",
        admin_user="admin",
        admin_password=ADMIN_PASSWORD,
        login_per_minute=1000,
        public_per_minute=100_000,
        api_key_per_minute=100_000,
        cache_seconds=0.5,
    )
    my_settings = dataclasses.replace(settings, access=conf)
    migrate(settings.database_url, access_schema, SERVICES["access"].migrations)
    migrate(settings.database_url, catalogue_schema, SERVICES["catalogue"].migrations)
    access_cls = type(
        "TestAccessService",
        (AccessService,),
        {"name": access_name, "db": Database(access_schema), "relay": OutboxRelay(access_schema)},
    )
    catalogue_cls = type(
        "TestCatalogueService",
        (CatalogueService,),
        {
            "name": catalogue_name,
            "db": Database(catalogue_schema),
            "relay": OutboxRelay(catalogue_schema),
        },
    )
    gateway_cls = type("TestGatewayService", (GatewayService,), {"name": f"{unique}_gateway"})
    # this platform's catalogue.* events land here (and go with it), not in disan.unrouted
    sink = Queue(
        f"disan.{catalogue_name}.sink",
        exchange=events_exchange,
        routing_key="catalogue.#",
        durable=False,
    )
    with Connection(settings.amqp_uri) as conn:
        sink.bind(conn.default_channel).declare()
        for name, cls in ((access_name, access_cls), (catalogue_name, catalogue_cls)):
            for queue in handler_queues(name, cls):
                queue.bind(conn.default_channel).declare()
    platform = CataloguePlatform(my_settings, conf.redis_prefix, access_name, access_schema)
    platform.catalogue_name = catalogue_name
    platform.catalogue_schema = catalogue_schema
    platform.catalogue_engine = make_engine(settings.database_url, catalogue_schema, pool_size=2)
    containers = []
    for cls, http in ((access_cls, False), (catalogue_cls, False), (gateway_cls, True)):
        config = nameko_config(my_settings, cls.name)
        config["DISAN_OPS_PORT"] = 0
        config["DISAN_ACCESS_SERVICE"] = access_name
        config["DISAN_CATALOGUE_SERVICE"] = catalogue_name
        if http:
            port = free_port()
            config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{port}"
            platform.base = f"http://127.0.0.1:{port}"
        container = ServiceContainer(cls, config)
        container.start()
        containers.append(container)
    platform.containers = {"access": containers[0], "catalogue": containers[1]}

    def stop() -> None:
        for container in reversed(containers):
            container.stop()
        platform.engine.dispose()
        platform.catalogue_engine.dispose()
        with Connection(settings.amqp_uri) as conn:
            conn.default_channel.queue_delete(sink.name)
            for name, cls in ((access_name, access_cls), (catalogue_name, catalogue_cls)):
                for queue in handler_queues(name, cls):
                    try:
                        conn.default_channel.queue_delete(queue.name)
                    except Exception:  # noqa: BLE001 - cleanup best effort
                        pass
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            for schema in (access_schema, catalogue_schema):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        for key in platform.redis.scan_iter(f"{conf.redis_prefix}*"):
            platform.redis.delete(key)
        platform.redis.close()

    wait_until(lambda: requests.get(platform.url("/healthz"), timeout=5).ok, timeout=20)
    return platform, stop


@pytest.fixture(scope="module")
def catalogue(settings):
    platform, stop = start_catalogue_platform(settings)
    yield platform
    stop()
