"""Provisioning of the local stack: infrastructure, database, vhost, schemas, queues, buckets."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from disan.cli import infra
from disan.cli.env import Paths
from disan.registry import SERVICES
from shared.bus import declare_base, declare_queue
from shared.config import Settings

BUCKETS = ("masters", "derivatives")


def load_started(p: Paths) -> dict[str, bool]:
    if p.started.exists():
        data: dict[str, bool] = json.loads(p.started.read_text())
        return data
    return {}


def provision(settings: Settings, p: Paths | None = None) -> dict[str, bool]:
    """Infrastructure up, database and vhost created; returns what this call started."""
    started: dict[str, bool] = {}
    db = urlsplit(settings.database_url)
    amqp = urlsplit(settings.amqp_uri)
    redis = urlsplit(settings.redis_url)
    if db.hostname in ("127.0.0.1", "localhost"):
        started["postgresql"] = infra.ensure_postgres(db.hostname, db.port or 5432)
        infra.ensure_database(db.path.lstrip("/"), db.username or "disan", db.password or "")
    if amqp.hostname in ("127.0.0.1", "localhost"):
        started["rabbitmq"] = infra.ensure_rabbitmq(amqp.hostname, amqp.port or 5672)
        infra.ensure_vhost(amqp.path.lstrip("/") or "/", amqp.username or "guest")
        infra.ensure_parking_policy(
            amqp.path.lstrip("/") or "/", settings.events.parking_max_messages
        )
    if redis.hostname in ("127.0.0.1", "localhost"):
        started["redis"] = infra.ensure_redis(redis.hostname, redis.port or 6379)
    if p is not None:
        before = load_started(p)
        merged = {k: before.get(k, False) or started.get(k, False) for k in before | started}
        p.started.write_text(json.dumps(merged))
    return started


def migrate_all(settings: Settings) -> None:
    """Schemas and migrations of every service, and every reliable handler's queue."""
    from kombu import Connection

    from shared.consumer import handler_queues
    from shared.db import migrate

    with Connection(settings.amqp_uri, connect_timeout=10) as conn:
        declare_base(conn)
        for spec in SERVICES.values():
            if spec.schema:
                migrate(settings.database_url, spec.schema, spec.migrations)
            if spec.kind != "nameko":
                continue
            for queue in handler_queues(spec.name, spec.load()):
                declare_queue(conn, queue)


def ensure_buckets(settings: Settings) -> None:
    from shared.storage import ObjectStore

    store = ObjectStore(settings.s3)
    for bucket in BUCKETS:
        store.ensure_bucket(bucket)
