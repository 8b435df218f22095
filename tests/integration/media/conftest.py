"""Access, catalogue, media and gateway as real nameko containers (PostgreSQL, RabbitMQ, S3).

Names and schemas are unique per module; the S3 buckets ``masters`` and ``derivatives`` belong
to the session's own moto server, and tests look only under their own asset ids.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
import requests
from nameko.containers import ServiceContainer
from sqlalchemy import text

from shared.db import make_engine
from shared.storage import ObjectStore
from tests.integration.catalogue.conftest import CataloguePlatform, record_body
from tests.integration.conftest import wait_until
from tests.integration.running import Services


class MediaPlatform(CataloguePlatform):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.media_name = services.names["media"]
        self.media_schema = services.schema("media")
        self.media_engine = make_engine(self.settings.database_url, self.media_schema, 2)
        self.media_config = services.configs["media"]
        self.store = ObjectStore(self.settings.s3)

    def close(self) -> None:
        self.media_engine.dispose()
        super().close()

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
        return self.services.start_again("media")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_media_platform(
    settings: Any, media_extra: dict[str, Any] | None = None
) -> tuple[MediaPlatform, Any]:
    services = Services(settings, extra={"media": media_extra or {}}, cache_seconds=0.5)
    services.start(["access", "catalogue", "media"])
    platform = MediaPlatform(services)

    def stop() -> None:
        services.stop()
        platform.close()

    return platform, stop


@pytest.fixture(scope="module")
def media(settings):
    platform, stop = start_media_platform(settings, {"max_pages": 500, "retention_days": 0})
    yield platform
    stop()
