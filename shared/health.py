"""Readiness checks of the dependencies a service needs: broker, database, S3."""

from __future__ import annotations

from collections.abc import Callable

from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.engine.url import make_url

from shared.config import Settings
from shared.storage import ObjectStore

Check = Callable[[Settings], None]


def check_broker(settings: Settings) -> None:
    with Connection(settings.amqp_uri, connect_timeout=3) as conn:
        conn.ensure_connection(max_retries=1)


def check_database(settings: Settings) -> None:
    url = make_url(settings.database_url).set(drivername="postgresql+psycopg")
    engine = create_engine(url, poolclass=None, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def check_storage(settings: Settings) -> None:
    ObjectStore(settings.s3, timeout=3).ping()


CHECKS: dict[str, Check] = {
    "broker": check_broker,
    "database": check_database,
    "storage": check_storage,
}


def run_checks(settings: Settings, names: tuple[str, ...]) -> dict[str, str]:
    """Each named check's outcome: ``ok`` or the reason it failed."""
    results: dict[str, str] = {}
    for name in names:
        try:
            CHECKS[name](settings)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a check reports, it never raises
            results[name] = f"{type(exc).__name__}: {exc}"[:300]
    return results
