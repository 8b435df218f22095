"""A refusal the gateway cannot audit because the broker is away is kept and sent once the
broker is back, oldest first (issue 14: refusals during an outage were not audited)."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from typing import Any

from werkzeug.test import EnvironBuilder

from services.gateway import auth
from services.gateway.http import ApiRequest


class RecordDenied:
    def __init__(self) -> None:
        self.down = True
        self.sent: list[tuple[Any, ...]] = []

    def call_async(self, *args: Any) -> None:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        self.sent.append(args)


def gate(provider: Any, record_denied: RecordDenied) -> auth.Gate:
    client = SimpleNamespace(proxy=SimpleNamespace(record_denied=record_denied))
    return auth.Gate(provider, client)  # type: ignore[arg-type]


def request(path: str) -> ApiRequest:
    return ApiRequest(EnvironBuilder(method="GET", path=path).get_environ())


def test_refusals_of_an_outage_are_audited_once_the_broker_is_back(monkeypatch: Any) -> None:
    provider = SimpleNamespace(
        settings=SimpleNamespace(access=SimpleNamespace(trusted_proxies=auth.LOOPBACK)),
        unaudited=deque(maxlen=auth.UNAUDITED_MAX),
        unaudited_retry_at=0.0,
    )
    record_denied = RecordDenied()
    someone = SimpleNamespace(subject="user:1")
    for path in ("/a", "/b"):
        gate(provider, record_denied).denied(request(path), someone, 403, "forbidden")
    assert [r[2] for r in provider.unaudited] == ["/a", "/b"]  # kept, not lost
    gate(provider, record_denied).send_unaudited()  # still down: kept, retried later
    assert len(provider.unaudited) == 2 and provider.unaudited_retry_at > 0
    record_denied.down = False
    gate(provider, record_denied).send_unaudited()
    assert [r[2] for r in record_denied.sent] == ["/a", "/b"]
    assert not provider.unaudited
