"""Media events in, Cantaloupe ``PurgeItemFromCache`` tasks out, health and metrics on a port.

The events come the way the Disan image server gets its purges
(:class:`shared.purges.PurgeConsumer`: a non-durable, exclusive queue per process bound to
``media.*`` on ``disan.events``), because a purge is a broadcast: every Cantaloupe
instance has its own cache, so each gets its own purger. A lost purge serves a stale image until
Cantaloupe's cache time-to-live; a failed purge is retried a few times, then counted and logged.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import Counter

from shared.backoff import exponential
from shared.cantaloupe import (
    CantaloupeClient,
    CantaloupeError,
    CantaloupeRefused,
    CantaloupeSettings,
)
from shared.config import ConfigError, Settings
from shared.ops import health_app, threaded_ops_server
from shared.purges import PurgeConsumer

log = logging.getLogger(__name__)

SERVICE = "cantaloupe_purger"
DEFAULT_OPS_PORT = 9108

PURGES = Counter(
    "disan_cantaloupe_purger_purges_total", "Cantaloupe purge tasks by outcome", ["outcome"]
)


@dataclass(frozen=True)
class PurgerConfig:
    cantaloupe: CantaloupeSettings
    ops_port: int = DEFAULT_OPS_PORT
    attempts: int = 4
    backoff_seconds: float = 0.5


def load_config(settings: Settings, env: Mapping[str, str] | None = None) -> PurgerConfig:
    """``extra.cantaloupe`` of the config file, each key overridable by ``DISAN_CANTALOUPE_<KEY>``
    (as the image server's ``extra.imageserver``); the API secret only from the environment."""
    env = os.environ if env is None else env
    extra: dict[str, Any] = dict(settings.extra.get("cantaloupe") or {})

    def get(key: str, default: str = "") -> str:
        return env.get(f"DISAN_CANTALOUPE_{key.upper()}") or str(extra.get(key, default))

    secret = env.get("DISAN_CANTALOUPE_API_SECRET", "")
    if not secret:
        raise ConfigError("DISAN_CANTALOUPE_API_SECRET must be set (endpoint.api.secret)")
    port = env.get("DISAN_OPS_PORT_CANTALOUPE_PURGER") or settings.ports.ops.get(SERVICE)
    return PurgerConfig(
        cantaloupe=CantaloupeSettings(
            url=get("url", "http://127.0.0.1:8182"),
            username=get("api_user", "disan"),
            secret=secret,
            timeout_seconds=float(get("timeout_seconds", "5")),
        ),
        ops_port=int(port or DEFAULT_OPS_PORT),
    )


class Purger:
    """Turns one purge target into one Cantaloupe task, with a few retries."""

    def __init__(
        self,
        client: CantaloupeClient,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.done = 0

    def __call__(self, asset_id: str | None) -> None:
        if asset_id is None:
            # access.* without an asset: Cantaloupe caches no access decisions
            PURGES.labels("ignored").inc()
            return
        for attempt in range(1, self.attempts + 1):
            try:
                self.client.purge_item(asset_id)
            except CantaloupeRefused as exc:
                PURGES.labels("refused").inc()
                log.error("Cantaloupe refused the purge of %s: %s", asset_id, exc)
                return
            except CantaloupeError as exc:
                if attempt == self.attempts:
                    PURGES.labels("failed").inc()
                    log.error("purge of %s failed after %d attempts: %s", asset_id, attempt, exc)
                    return
                self.sleep(exponential(attempt, self.backoff_seconds, math.inf))
            else:
                PURGES.labels("ok").inc()
                self.done += 1
                log.info("purged %s from Cantaloupe", asset_id)
                return


def ops_server(host: str, port: int, ready: Callable[[], dict[str, str]]) -> ThreadingHTTPServer:
    """``/healthz``, ``/readyz`` (broker consumer and Cantaloupe reachable), ``/metrics``."""
    return threaded_ops_server(host, port, health_app(SERVICE, ready))


def main() -> int:
    from shared.config import load_settings
    from shared.logs import configure_logging

    configure_logging(SERVICE)
    try:
        settings = load_settings()
        config = load_config(settings)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    client = CantaloupeClient(config.cantaloupe)
    consumer = PurgeConsumer(
        settings.amqp_uri, Purger(client, config.attempts), queue_prefix="disan.cantaloupe.purge"
    )
    consumer.start("cantaloupe-purges")

    def ready() -> dict[str, str]:
        return {
            "broker": "ok" if consumer.connected.is_set() else "not connected",
            "cantaloupe": "ok" if client.healthy() else "unreachable",
        }

    server = ops_server(settings.bind_host, config.ops_port, ready)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    log.info("purging %s on media events; ops port %d", config.cantaloupe.url, config.ops_port)
    stopped.wait()
    consumer.stop()
    server.shutdown()
    return 0
