"""Access, catalogue, media, iiif and gateway as real nameko containers, for annotation tests.

The media platform of ``tests/integration/media`` plus the iiif service. The iiif container is
named ``iiif`` (the name the gateway calls): this session's vhost is its own
(``DISAN_TEST_SLOT``), and the fixture is module-scoped, so only one runs at a time.
A record with one image is published through the gateway, so its canvas exists in the iiif
projection the way it does in production: catalogue and media events, then RPC back.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from sqlalchemy import text

from services.iiif.service import IiifService
from shared.consumer import handler_queues
from shared.db import Database, make_engine, migrate
from shared.outbox import OutboxRelay
from shared.runner import SERVICES, nameko_config
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until
from tests.integration.media.conftest import MediaPlatform, start_media_platform
from tests.integration.media.support import png

PASSWORD = "correct horse battery staple"


class AnnotationPlatform(MediaPlatform):
    iiif_schema: str
    iiif_engine: Any

    def iiif_sql(self, statement: str, **params: Any) -> list[Any]:
        with self.iiif_engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    def published_with_image(
        self, width: int = 320, height: int = 200, **record: Any
    ) -> tuple[str, str]:
        """A published record with one ready image: (record id, canvas URL)."""
        record_id = str(self.create(record_body(**record))["id"])
        answer = self.upload(record_id, png(width, height), "page.png")
        assert answer.status_code == 202, answer.text
        assert self.wait_done(answer.json()["asset_id"])["status"] == "ready"
        self.publish(record_id)
        rows = wait_until(
            lambda: self.iiif_sql(
                "SELECT canvas_id FROM canvases WHERE record_id = CAST(:r AS uuid)", r=record_id
            ),
            timeout=30,
        )
        return record_id, rows[0][0]

    def new_user(self, role: str = "researcher") -> tuple[str, str]:
        """Another user with ``role``: (user id, bearer token)."""
        name = f"{role}-{uuid.uuid4().hex[:6]}"
        created = self.request(
            "POST",
            "/api/v1/users",
            token=self.token_for("admin"),
            json={"username": name, "password": PASSWORD, "roles": [role]},
        )
        assert created.status_code == 201, created.text
        answer = self.login(name, PASSWORD, ip=f"10.9.{uuid.uuid4().int % 250}.1")
        assert answer.status_code == 200, answer.text
        return str(created.json()["id"]), answer.json()["access_token"]

    def user_id(self, role: str) -> str:
        self.token_for(role)
        return str(self.users[role]["id"]) if role != "admin" else ""

    def iiif_outbox(self, event_type: str) -> list[dict[str, Any]]:
        rows = self.iiif_sql(
            "SELECT envelope FROM outbox WHERE type = :t ORDER BY id", t=event_type
        )
        return [r[0] for r in rows]


def start_annotation_platform(settings: Any) -> tuple[AnnotationPlatform, Any]:
    base, stop_base = start_media_platform(settings, {"max_pages": 50, "retention_days": 0})
    platform = base
    platform.__class__ = AnnotationPlatform
    schema = "t" + uuid.uuid4().hex[:10] + "_iiif"
    migrate(settings.database_url, schema, SERVICES["iiif"].migrations)
    cls = type(
        "TestIiifService",
        (IiifService,),
        {"name": "iiif", "db": Database(schema), "relay": OutboxRelay(schema)},
    )
    with Connection(settings.amqp_uri) as conn:
        for queue in handler_queues("iiif", cls):
            queue.bind(conn.default_channel).declare()
    config = nameko_config(platform.settings, "iiif")
    # the embargo timer looks every half second here (60 s by default)
    extra = dict(platform.settings.extra or {})
    extra["iiif"] = dict(extra.get("iiif") or {}) | {"embargo_check_seconds": 0.5}
    config["DISAN_SETTINGS"] = dataclasses.replace(platform.settings, extra=extra)
    config["DISAN_OPS_PORT"] = 0
    config["DISAN_ACCESS_SERVICE"] = platform.access_name
    config["DISAN_CATALOGUE_SERVICE"] = platform.catalogue_name
    config["DISAN_MEDIA_SERVICE"] = platform.media_name
    container = ServiceContainer(cls, config)
    container.start()
    platform.containers["iiif"] = container
    platform.iiif_schema = schema
    platform.iiif_engine = make_engine(settings.database_url, schema, pool_size=2)

    def stop() -> None:
        if container.started:
            container.stop()
        platform.iiif_engine.dispose()
        with Connection(settings.amqp_uri) as conn:
            for queue in handler_queues("iiif", cls):
                try:
                    conn.default_channel.queue_delete(queue.name)
                except Exception:  # noqa: BLE001 - cleanup best effort
                    pass
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        stop_base()

    wait_until(lambda: requests.get(platform.url("/healthz"), timeout=5).ok, timeout=20)
    return platform, stop
