"""A running notifications service (real nameko container, PostgreSQL, RabbitMQ), webhook
receivers over real HTTP on loopback, and a real SMTP server (aiosmtpd) writing a maildir.

Names and schemas are unique per start, and the journal's ``#`` queue is deleted afterwards,
so nothing is left bound to ``disan.events`` for other suites in the same vhost.
"""

from __future__ import annotations

import dataclasses
import json
import mailbox
import subprocess
import sys
import threading
import time
import uuid
from email.header import decode_header, make_header
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import text

from disan.registry import SERVICES
from services.notifications.service import NotificationsService
from shared.bus import ConfirmingPublisher
from shared.consumer import handler_queues
from shared.db import Database, make_engine, migrate
from shared.events import Event, make_event
from shared.outbox import OutboxRelay, to_outgoing
from shared.runner import nameko_config
from tests.conftest import free_port, wait_port
from tests.integration.conftest import wait_until

SECRET = "a-long-test-secret-0123456789"
PARTNER = {"kind": "api_key", "id": "k-test", "name": "LGSP thử", "roles": ["partner"]}
OTHER_PARTNER = {"kind": "api_key", "id": "k-other", "name": "Bảo tàng", "roles": ["partner"]}

FAST_WEBHOOKS = {
    "allow_loopback": True,
    "timeout_seconds": 1.0,
    "connect_timeout_seconds": 0.5,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 1.0,
    "retry_window_seconds": 2.5,
    "pause_after_failures": 10,
    "per_subscription": 4,
    "concurrency": 50,
}


# webhook receivers -----------------------------------------------------------------------------


@dataclasses.dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def envelope(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    """HTTP receivers on loopback: each path behaves as told (``ok``, fail N times, hang,
    redirect) and every request is kept."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.behaviour: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, int] = {}
        self.stop_hanging = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver.answer(self.path)
                if status == 0:  # hang
                    receiver.stop_hanging.wait(30)
                    return
                receiver.hits.append(
                    Hit(self.path, dict(self.headers), body, time.monotonic(), status)
                )
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/ok")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str) -> int:
        spec = self.behaviour.get(path.split("?")[0], {})
        if spec.get("hang"):
            return 0
        fail = int(spec.get("fail", 0))
        seen = self.failures.get(path, 0)
        if seen < fail:
            self.failures[path] = seen + 1
            return int(spec.get("status", 500))
        return int(spec.get("then", 200))

    def at(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def close(self) -> None:
        self.stop_hanging.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# a real SMTP server ----------------------------------------------------------------------------


class SmtpServer:
    """``python -m aiosmtpd`` on loopback, delivering into a maildir the tests read."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.maildir = directory / "maildir"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(self.maildir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def messages(self) -> list[Message]:
        if not self.maildir.exists():
            return []
        return [m for _, m in sorted(mailbox.Maildir(str(self.maildir), create=False).items())]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages() if address in str(m["To"])]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def subject(msg: Message) -> str:
    return str(make_header(decode_header(str(msg["Subject"]))))


def body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(msg.get_content_charset() or "utf-8")


@pytest.fixture(scope="session")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    yield server
    server.close()


# the service -----------------------------------------------------------------------------------


class Notifications:
    """A started notifications service under a unique name and schema."""

    def __init__(self, settings: Any, name: str, schema: str) -> None:
        self.settings = settings
        self.name = name
        self.schema = schema
        self.engine = make_engine(settings.database_url, schema, pool_size=2)
        self.publisher = ConfirmingPublisher(settings.amqp_uri)
        self.container: ServiceContainer | None = None

    def rpc(self) -> ServiceRpcProxy:
        return ServiceRpcProxy(self.name, {"AMQP_URI": self.settings.amqp_uri})

    def call(self, method: str, *args: Any) -> Any:
        with self.rpc() as proxy:
            return getattr(proxy, method)(*args)

    def subscribe(self, url: str, events: list[str], actor: Any = None, **extra: Any) -> str:
        body = {"url": url, "events": events, "secret": SECRET} | extra
        created = self.call("create_subscription", actor or PARTNER, body)
        return str(created["id"])

    def publish(self, event_type: str, data: dict[str, Any], **kwargs: Any) -> Event:
        event = make_event(event_type, data, producer="test", **kwargs)
        self.publisher.publish([to_outgoing(event.to_dict())])
        return event

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    def deliveries(self, sub_id: str) -> list[Any]:
        return self.sql(
            "SELECT * FROM deliveries WHERE subscription_id = :s ORDER BY created_at", s=sub_id
        )


def start_notifications(
    settings: Any,
    webhooks: dict[str, Any] | None = None,
    smtp_port: int | None = None,
    config: dict[str, Any] | None = None,
    environment: str | None = None,
) -> tuple[Notifications, Any]:
    """Start a notifications container under fresh names; returns (handle, stop).

    ``environment="production"`` starts it as production does (https only, no loopback flag);
    a container that refuses to start is cleaned up and its error raised."""
    unique = "t" + uuid.uuid4().hex[:10]
    name, schema = f"{unique}_notifications", f"{unique}_notifications"
    extra = dict(settings.extra)
    extra["notifications"] = {
        "webhooks": FAST_WEBHOOKS | (webhooks or {}),
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "Disan <disan@test.vn>"}
        if smtp_port
        else {},
    }
    my_settings = dataclasses.replace(settings, extra=extra)
    if environment is not None:
        my_settings = dataclasses.replace(my_settings, environment=environment)
    migrate(settings.database_url, schema, SERVICES["notifications"].migrations)
    cls = type(
        "TestNotificationsService",
        (NotificationsService,),
        {"name": name, "db": Database(schema), "relay": OutboxRelay(schema)},
    )
    with Connection(settings.amqp_uri) as conn:
        for queue in handler_queues(name, cls):
            queue.bind(conn.default_channel).declare()
    handle = Notifications(my_settings, name, schema)
    container_config = nameko_config(my_settings, name) | (config or {})
    container_config["DISAN_OPS_PORT"] = 0
    container = ServiceContainer(cls, container_config)
    handle.container = container

    def stop(started: bool = True) -> None:
        if started:
            container.stop()
        else:
            try:
                container.kill()
            except Exception:  # noqa: BLE001 - a container that failed to start
                pass
        handle.publisher.close()
        handle.engine.dispose()
        with Connection(settings.amqp_uri) as conn:
            # its handler queue (bound to "#": left behind, it would swallow every event of
            # this vhost) and its RPC queue
            for queue in [q.name for q in handler_queues(name, cls)] + [f"rpc-{name}"]:
                try:
                    with conn.channel() as channel:
                        channel.queue_delete(queue)
                except Exception:  # noqa: BLE001 - cleanup best effort
                    pass
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    try:
        container.start()
    except Exception:
        stop(started=False)
        raise
    return handle, stop


@pytest.fixture(scope="module")
def notifications(settings, smtp):
    handle, stop = start_notifications(settings, smtp_port=smtp.port)
    yield handle
    stop()


def record_data(**overrides: Any) -> dict[str, Any]:
    """The data of a catalogue event about a fresh record."""
    data: dict[str, Any] = {
        "record_id": str(uuid.uuid4()),
        "inventory_number": f"HP-T-{uuid.uuid4().hex[:6]}",
        "heritage_class": "tangible_site",
        "version": 1,
        "state": "published",
        "title": {"vi": "Đình Hàng Kênh", "en": "Hàng Kênh communal house"},
    }
    return data | overrides


__all__ = ["record_data", "start_notifications", "wait_until"]
