"""Fixtures of the iiif tests: a throwaway ``iiif`` schema with every migration."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from disan.registry import SERVICES
from shared.db import make_engine, migrate


@pytest.fixture
def iiif_engine(settings: Any) -> Iterator[Any]:
    schema = "t" + uuid.uuid4().hex[:10] + "_iiif"
    migrate(settings.database_url, schema, SERVICES["iiif"].migrations)
    engine = make_engine(settings.database_url, schema, pool_size=2)
    yield engine
    engine.dispose()
    admin = make_engine(settings.database_url, "public", pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def ready_image(db: Any, record_id: str, width: int = 40, height: int = 30) -> str:
    """Give a record of the projection one ready image (a record with no media has no
    manifest, ADR 0067); its asset id."""
    from datetime import UTC, datetime

    from services.iiif import repository as repo

    asset_id = str(uuid.uuid4())
    repo.apply_asset(
        db,
        asset_id,
        record_id,
        datetime.now(UTC),
        kind="image",
        status="ready",
        width=width,
        height=height,
    )
    return asset_id
