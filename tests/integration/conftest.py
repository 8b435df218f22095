"""Helpers for integration tests: real RabbitMQ, PostgreSQL and S3, nameko containers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from kombu import Connection
from nameko.containers import ServiceContainer
from sqlalchemy import text

from shared.db import make_engine, migrate
from shared.runner import nameko_config

pytestmark = pytest.mark.integration


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail with a clear message."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


@pytest.fixture
def unique() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def schema_factory(settings):
    """Create throwaway service schemas (kernel tables plus extra SQL); dropped afterwards."""
    created: list[str] = []
    engines = []

    def make(name: str, extra_sql: str = ""):
        migrate(settings.database_url, name)
        engine = make_engine(settings.database_url, name, pool_size=2)
        engines.append(engine)
        if extra_sql:
            with engine.begin() as conn:
                conn.exec_driver_sql(extra_sql)
        created.append(name)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
    admin = make_engine(settings.database_url, "public", pool_size=1)
    with admin.begin() as conn:
        for name in created:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def container_factory(settings):
    """Start nameko service containers with the test settings; stopped afterwards."""
    containers: list[ServiceContainer] = []

    def make(cls, start: bool = True) -> ServiceContainer:
        config = nameko_config(settings, cls.name)
        config["DISAN_OPS_PORT"] = 0
        container = ServiceContainer(cls, config)
        containers.append(container)
        if start:
            container.start()
        return container

    yield make
    for container in containers:
        if container.started:
            container.stop()


@pytest.fixture
def amqp(settings):
    with Connection(settings.amqp_uri) as conn:
        yield conn


@pytest.fixture
def delete_queues(settings):
    names: list[str] = []
    yield names
    with Connection(settings.amqp_uri) as conn:
        channel = conn.channel()
        for name in names:
            try:
                channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - cleanup best effort
                channel = conn.channel()


@pytest.fixture
def no_catch_all(settings):
    """Unbind, for one test, any queue bound to every event (``#`` on ``disan.events``, e.g. a
    notifications journal left by an earlier test): tests of unrouted events need none."""
    import json
    import shutil
    import subprocess
    from urllib.parse import urlsplit

    from shared.bus import EVENTS_EXCHANGE

    vhost = urlsplit(settings.amqp_uri).path.lstrip("/")
    queues: list[str] = []
    if shutil.which("rabbitmqctl") is not None:
        out = subprocess.run(
            ["rabbitmqctl", "-q", "list_bindings", "-p", vhost, "--formatter", "json"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        queues = [
            b["destination_name"]
            for b in json.loads(out or "[]")
            if b["source_name"] == EVENTS_EXCHANGE and b["routing_key"] == "#"
        ]
    with Connection(settings.amqp_uri) as conn:
        for queue in queues:
            conn.default_channel.queue_unbind(queue, EVENTS_EXCHANGE, "#")
    yield
    with Connection(settings.amqp_uri) as conn:
        for queue in queues:
            conn.default_channel.queue_bind(queue, EVENTS_EXCHANGE, "#")
