"""A running access service, catalogue and gateway (real nameko containers, PostgreSQL,
RabbitMQ, Redis), called over real HTTP. Names, schemas and Redis prefix are unique per module,
so concurrent runs on one machine do not see each other's records.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import make_engine
from tests.integration.access.conftest import Platform
from tests.integration.running import Services


class CataloguePlatform(Platform):
    """The access test platform plus the catalogue's name, schema and a few helpers."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.catalogue_name = services.names["catalogue"]
        self.catalogue_schema = services.schema("catalogue")
        self.catalogue_engine = make_engine(
            self.settings.database_url, self.catalogue_schema, pool_size=2
        )

    def close(self) -> None:
        self.catalogue_engine.dispose()
        super().close()

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
    services = Services(settings, cache_seconds=0.5)
    # this platform's catalogue.* events land here (and go with it), not in disan.unrouted
    services.sink("catalogue.#")
    services.start(["access", "catalogue"])
    platform = CataloguePlatform(services)

    def stop() -> None:
        services.stop()
        platform.close()

    return platform, stop


@pytest.fixture(scope="module")
def catalogue(settings):
    platform, stop = start_catalogue_platform(settings)
    yield platform
    stop()
