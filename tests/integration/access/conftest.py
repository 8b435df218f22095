"""A running access service and gateway (real nameko containers, PostgreSQL, RabbitMQ, Redis),
called over real HTTP. Each module gets its own schema, service names and Redis prefix, so
concurrent test runs on one machine do not see each other's users, keys or counters.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import redis
import requests
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import text

from services.gateway.service import GatewayService
from shared.db import make_engine
from shared.logs import JsonFormatter
from tests.integration.conftest import wait_until
from tests.integration.running import ADMIN_PASSWORD, Services

PASSWORD = "a good long passphrase 42"
ROLE_NAMES = ("admin", "cataloguer", "reviewer", "researcher", "partner")


class CapturingHandler(logging.Handler):
    """Keeps every formatted log line, as the JSON logs of a deployment would hold them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a log line that cannot be formatted is still text
            self.lines.append(str(record.__dict__))


class Platform:
    """Handles on the running services and helpers to call them as different people."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = settings = services.settings
        self.prefix = settings.access.redis_prefix
        self.access_name = services.names["access"]
        self.schema = services.schema("access")
        self.base = services.base
        self.containers: dict[str, ServiceContainer] = services.containers
        self.tokens: dict[str, str] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.secrets: list[str] = [ADMIN_PASSWORD, PASSWORD]
        self.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.engine = make_engine(settings.database_url, self.schema, pool_size=2)

    def close(self) -> None:
        """Release this module's connections and Redis keys (after ``services.stop()``)."""
        self.engine.dispose()
        for key in self.redis.scan_iter(f"{self.prefix}*"):
            self.redis.delete(key)
        self.redis.close()

    def url(self, path: str) -> str:
        return self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["X-API-Key"] = key
        return requests.request(method, self.url(path), headers=headers, timeout=30, **kwargs)

    def login(self, username: str, password: str, ip: str | None = None) -> requests.Response:
        headers = {"X-Real-IP": ip} if ip else {}
        return self.request(
            "POST",
            "/api/v1/auth/token",
            json={"username": username, "password": password},
            headers=headers,
        )

    def token_for(self, role: str) -> str:
        """A bearer token of a user holding just ``role`` (created on first use)."""
        if role not in self.tokens:
            name = f"{role}-{uuid.uuid4().hex[:6]}"
            if role != "admin":
                created = self.request(
                    "POST",
                    "/api/v1/users",
                    token=self.token_for("admin"),
                    json={"username": name, "password": PASSWORD, "roles": [role]},
                )
                assert created.status_code == 201, created.text
                self.users[role] = created.json()
                password = PASSWORD
            else:
                name, password = "admin", ADMIN_PASSWORD
            answer = self.login(name, password, ip=f"10.0.{len(self.tokens)}.1")
            assert answer.status_code == 200, answer.text
            self.tokens[role] = answer.json()["access_token"]
            self.secrets.append(self.tokens[role])
            self.secrets.append(answer.json()["refresh_token"])
        return self.tokens[role]

    def new_key(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "LGSP Hải Phòng")
        answer = self.request("POST", "/api/v1/apikeys", token=self.token_for("admin"), json=body)
        assert answer.status_code == 201, answer.text
        self.secrets.append(answer.json()["key"])
        return answer.json()  # type: ignore[no-any-return]

    def set_policy(
        self, kind: str, resource_id: str, role: str = "admin", **policy: Any
    ) -> dict[str, Any]:
        """PUT the access policy of a record or asset as ``role``; the policy as stored."""
        answer = self.request(
            "PUT",
            f"/api/v1/policies/{kind}/{resource_id}",
            token=self.token_for(role),
            json=policy,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def rpc(self) -> ServiceRpcProxy:
        return ServiceRpcProxy(self.access_name, {"AMQP_URI": self.settings.amqp_uri})

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.request("GET", "/api/v1/audit", token=self.token_for("admin"), params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]

    def wait_audit(self, event_type: str, predicate: Any = None, timeout: float = 10) -> Any:
        def found() -> Any:
            items = self.audit(type=event_type, limit=1000)
            return [i for i in items if predicate is None or predicate(i)]

        return wait_until(found, timeout=timeout)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []


def start_platform(
    settings: Any,
    overrides: dict[str, Any] | None = None,
    cache_seconds: float | None = None,
    gateway_base: type = GatewayService,
) -> tuple[Platform, Any]:
    """Start an access service and a gateway under fresh names; returns (platform, stop)."""
    services = Services(settings, **(overrides or {}))
    config = {} if cache_seconds is None else {"DISAN_AUTH_CACHE_SECONDS": cache_seconds}
    services.start(["access"], gateway=gateway_base, config=config)
    platform = Platform(services)

    def stop() -> None:
        services.stop()
        platform.close()

    return platform, stop


@pytest.fixture(scope="module")
def log_capture():
    handler = CapturingHandler()
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as deployed: configure_logging's default level
    yield handler
    root.removeHandler(handler)
    root.setLevel(before)


@pytest.fixture(scope="module")
def platform(settings, log_capture):
    platform, stop = start_platform(settings)
    platform.log_capture = log_capture
    yield platform
    stop()


@pytest.fixture
def item_id() -> str:
    """A fresh record or asset id (ids are UUIDs; the policy routes refuse anything else)."""
    return str(uuid.uuid4())
