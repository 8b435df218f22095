"""Access, catalogue, media, iiif and gateway as real nameko containers, for annotation tests.

The media platform of ``tests/integration/media`` plus the iiif service. The iiif container is
named ``iiif`` (the name the gateway calls): this session's vhost is its own
(``DISAN_TEST_SLOT``), and the fixture is module-scoped, so only one runs at a time.
A record with one image is published through the gateway, so its canvas exists in the iiif
projection the way it does in production: catalogue and media events, then RPC back.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from shared.db import make_engine
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until
from tests.integration.media.conftest import MediaPlatform
from tests.integration.media.support import png
from tests.integration.running import Services

PASSWORD = "correct horse battery staple"


class AnnotationPlatform(MediaPlatform):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.iiif_schema = services.schema("iiif")
        self.iiif_engine = make_engine(self.settings.database_url, self.iiif_schema, 2)

    def close(self) -> None:
        self.iiif_engine.dispose()
        super().close()

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
        asset_id = answer.json()["asset_id"]
        assert self.wait_done(asset_id)["status"] == "ready"
        self.publish(record_id)
        rows = wait_until(
            lambda: self.iiif_sql(
                "SELECT canvas_id FROM canvases WHERE record_id = CAST(:r AS uuid)", r=record_id
            ),
            timeout=30,
        )
        # the image leaves "staff only" once the access service has the record as published
        # (ADR 0034), which may come a moment after the manifest
        wait_until(lambda: self.asset_level(asset_id) != "staff_only", timeout=10)
        return record_id, rows[0][0]

    def asset_level(self, asset_id: str) -> str:
        """The asset's access level as the gateway has it."""
        found = self.request(
            "GET", f"/api/v1/policies/asset/{asset_id}", token=self.token_for("cataloguer")
        )
        assert found.status_code == 200, found.text
        return str(found.json()["level"])

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
    services = Services(
        settings,
        extra={
            "media": {"max_pages": 50, "retention_days": 0},
            # the embargo timer looks every half second here (60 s by default)
            "iiif": {"embargo_check_seconds": 0.5},
        },
        cache_seconds=0.5,
    )
    services.start(["access", "catalogue", "media", "iiif"], names={"iiif": "iiif"})
    platform = AnnotationPlatform(services)

    def stop() -> None:
        services.stop()
        platform.close()

    return platform, stop
