"""Access, catalogue, media and gateway as real nameko containers (PostgreSQL, RabbitMQ, S3).

Names and schemas are unique per module; the S3 buckets ``masters`` and ``derivatives`` belong
to the session's own moto server, and tests look only under their own asset ids.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import pytest
import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from sqlalchemy import text

from services.access.service import AccessService
from services.catalogue.service import CatalogueService
from services.gateway.service import GatewayService
from services.media.service import MediaService
from shared.consumer import handler_queues
from shared.db import Database, make_engine, migrate
from shared.outbox import OutboxRelay
from shared.runner import SERVICES, nameko_config
from shared.storage import ObjectStore
from tests.conftest import free_port
from tests.integration.catalogue.conftest import CataloguePlatform, record_body
from tests.integration.conftest import wait_until


class MediaPlatform(CataloguePlatform):
    media_name: str
    media_schema: str
    media_engine: Any
    media_cls: type
    media_config: dict[str, Any]
    store: ObjectStore

    def media_sql(self, statement: str, **params: Any) -> list[Any]:
        with self.media_engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    def media_outbox(self, event_type: str, asset_id: str) -> list[dict[str, Any]]:
        rows = self.media_sql(
            "SELECT envelope FROM outbox WHERE type = :t AND envelope->'data'->>'asset_id' = :a "
            "ORDER BY id",
            t=event_type,
            a=asset_id,
        )
        return [r[0] for r in rows]

    def new_record(self) -> str:
        return str(self.create(record_body())["id"])

    def upload(
        self,
        record_id: str,
        data: bytes | Any,
        filename: str = "file.bin",
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        body = io.BytesIO(data) if isinstance(data, bytes) else data
        return requests.post(
            self.url(f"/api/v1/records/{record_id}/media"),
            headers={"Authorization": f"Bearer {self.token_for('cataloguer')}"} | (headers or {}),
            files={"file": (filename, body, "application/octet-stream")},
            data=fields or {},
            timeout=600,
        )

    def asset(self, asset_id: str) -> dict[str, Any]:
        answer = self.request(
            "GET", f"/api/v1/media/{asset_id}", token=self.token_for("cataloguer")
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def asset_from_db(self, asset_id: str) -> dict[str, Any]:
        rows = self.media_sql("SELECT status FROM assets WHERE id = :a", a=asset_id)
        return {"status": rows[0][0]}

    def wait_done(self, asset_id: str, timeout: float = 120.0) -> dict[str, Any]:
        return wait_until(  # type: ignore[no-any-return]
            lambda: (a := self.asset(asset_id))["status"] != "processing" and a,
            timeout=timeout,
            interval=0.2,
        )

    def keys(self, bucket: str, asset_id: str) -> list[str]:
        return self.store.list_keys(bucket, f"assets/{asset_id}/")

    def start_media(self) -> ServiceContainer:
        container = ServiceContainer(self.media_cls, self.media_config)
        container.start()
        self.containers["media"] = container
        return container


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_media_platform(settings: Any, media_extra: dict[str, Any] | None = None) -> Any:
    import dataclasses

    from tests.integration.access.conftest import ADMIN_PASSWORD

    unique = "t" + uuid.uuid4().hex[:10]
    schemas = {s: f"{unique}_{s}" for s in ("access", "catalogue", "media")}
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
    extra = dict(settings.extra) | {"media": media_extra or {}}
    my_settings = dataclasses.replace(settings, access=conf, extra=extra)
    for service, schema in schemas.items():
        migrate(settings.database_url, schema, SERVICES[service].migrations)
    bases = {"access": AccessService, "catalogue": CatalogueService, "media": MediaService}
    classes = {
        s: type(
            f"Test{bases[s].__name__}",
            (bases[s],),
            {"name": schemas[s], "db": Database(schemas[s]), "relay": OutboxRelay(schemas[s])},
        )
        for s in schemas
    }
    gateway_cls = type("TestGatewayService", (GatewayService,), {"name": f"{unique}_gateway"})
    with Connection(settings.amqp_uri) as conn:
        for s, cls in classes.items():
            for queue in handler_queues(schemas[s], cls):
                queue.bind(conn.default_channel).declare()
    platform = MediaPlatform(my_settings, conf.redis_prefix, schemas["access"], schemas["access"])
    platform.catalogue_name = platform.catalogue_schema = schemas["catalogue"]
    platform.catalogue_engine = make_engine(settings.database_url, schemas["catalogue"], 2)
    platform.media_name = platform.media_schema = schemas["media"]
    platform.media_engine = make_engine(settings.database_url, schemas["media"], 2)
    platform.media_cls = classes["media"]
    platform.store = ObjectStore(settings.s3)
    containers: list[ServiceContainer] = []
    for cls, http in (
        (classes["access"], False),
        (classes["catalogue"], False),
        (classes["media"], False),
        (gateway_cls, True),
    ):
        config = nameko_config(my_settings, cls.name)
        config["DISAN_OPS_PORT"] = 0
        config["DISAN_ACCESS_SERVICE"] = schemas["access"]
        config["DISAN_CATALOGUE_SERVICE"] = schemas["catalogue"]
        config["DISAN_MEDIA_SERVICE"] = schemas["media"]
        if cls is classes["media"]:
            platform.media_config = config
        if http:
            port = free_port()
            config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{port}"
            platform.base = f"http://127.0.0.1:{port}"
        container = ServiceContainer(cls, config)
        container.start()
        containers.append(container)
    platform.containers = {
        "access": containers[0],
        "catalogue": containers[1],
        "media": containers[2],
    }

    def stop() -> None:
        for container in [*platform.containers.values(), containers[3]]:
            if container.started:
                container.stop()
        for engine in (platform.engine, platform.catalogue_engine, platform.media_engine):
            engine.dispose()
        with Connection(settings.amqp_uri) as conn:
            for s, cls in classes.items():
                for queue in handler_queues(schemas[s], cls):
                    try:
                        conn.default_channel.queue_delete(queue.name)
                    except Exception:  # noqa: BLE001 - cleanup best effort
                        pass
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            for schema in schemas.values():
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        for key in platform.redis.scan_iter(f"{conf.redis_prefix}*"):
            platform.redis.delete(key)
        platform.redis.close()

    wait_until(lambda: requests.get(platform.url("/healthz"), timeout=5).ok, timeout=20)
    return platform, stop


@pytest.fixture(scope="module")
def media(settings):
    platform, stop = start_media_platform(settings, {"max_pages": 500, "retention_days": 0})
    yield platform
    stop()
