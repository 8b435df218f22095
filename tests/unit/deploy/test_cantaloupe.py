"""shared.cantaloupe (the HTTP tasks client) and the purger, against fakes of the HTTP session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from services.cantaloupe_purger.purger import PURGES, Purger, load_config
from shared.cantaloupe import (
    CantaloupeClient,
    CantaloupeError,
    CantaloupeRefused,
    CantaloupeSettings,
    CantaloupeUnavailable,
    TaskVerb,
)
from shared.config import ConfigError, load_settings

SETTINGS = CantaloupeSettings(url="http://cantaloupe:8182", username="disan", secret="s3cret")
ASSET = "0b8f3c1e-7c1a-4c55-9d55-2f3f5f1f9a10"


@dataclass
class FakeResponse:
    status_code: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def json(self) -> Any:
        if self.body is None:
            raise ValueError("no JSON")
        return self.body


@dataclass
class FakeSession:
    answers: list[Any]
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _answer(self, method: str, url: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._answer("POST", url, kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._answer("GET", url, kwargs)


def accepted() -> FakeResponse:
    return FakeResponse(202, headers={"Location": "/tasks/5e6f"})


def test_purge_item_posts_the_verb_and_identifier_with_basic_auth() -> None:
    session = FakeSession([accepted()])
    location = CantaloupeClient(SETTINGS, session).purge_item(ASSET)
    assert location == "http://cantaloupe:8182/tasks/5e6f"
    method, url, kwargs = session.calls[0]
    assert (method, url) == ("POST", "http://cantaloupe:8182/tasks")
    assert kwargs["json"] == {"verb": "PurgeItemFromCache", "identifier": ASSET}
    assert kwargs["auth"] == ("disan", "s3cret")
    assert kwargs["timeout"] == SETTINGS.timeout_seconds


@pytest.mark.parametrize(
    ("call", "verb"),
    [("purge_invalid", TaskVerb.PURGE_INVALID), ("purge_all", TaskVerb.PURGE_ALL)],
)
def test_cache_wide_verbs(call: str, verb: str) -> None:
    session = FakeSession([accepted()])
    getattr(CantaloupeClient(SETTINGS, session), call)()
    assert session.calls[0][2]["json"] == {"verb": verb}


def test_wrong_credentials_are_refused_not_retried() -> None:
    session = FakeSession([FakeResponse(401, text="Unauthorized")])
    with pytest.raises(CantaloupeRefused) as caught:
        CantaloupeClient(SETTINGS, session).purge_item(ASSET)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "answer", [FakeResponse(503, text="busy"), requests.ConnectionError("refused")]
)
def test_server_errors_and_network_failures_are_unavailable(answer: Any) -> None:
    with pytest.raises(CantaloupeUnavailable):
        CantaloupeClient(SETTINGS, FakeSession([answer])).purge_item(ASSET)


def test_task_status_is_followed_until_it_finishes() -> None:
    session = FakeSession(
        [
            FakeResponse(200, {"verb": "PurgeItemFromCache", "status": "RUNNING"}),
            FakeResponse(200, {"verb": "PurgeItemFromCache", "status": "SUCCEEDED"}),
        ]
    )
    task = CantaloupeClient(SETTINGS, session).wait("http://cantaloupe:8182/tasks/5e6f", interval=0)
    assert task.succeeded and task.finished and task.verb == "PurgeItemFromCache"
    assert [c[1] for c in session.calls] == ["http://cantaloupe:8182/tasks/5e6f"] * 2


def test_a_failed_task_carries_its_exception() -> None:
    session = FakeSession([FakeResponse(200, {"status": "FAILED", "exception": "disk full"})])
    task = CantaloupeClient(SETTINGS, session).task("http://cantaloupe:8182/tasks/1")
    assert task.finished and not task.succeeded and task.message == "disk full"


def test_health_is_false_when_unreachable() -> None:
    session = FakeSession([FakeResponse(200), requests.Timeout("slow")])
    client = CantaloupeClient(SETTINGS, session)
    assert client.healthy() is True
    assert client.healthy() is False


def test_an_empty_secret_is_refused_at_construction() -> None:
    with pytest.raises(CantaloupeError):
        CantaloupeClient(CantaloupeSettings("http://c:8182", "disan", ""))
    with pytest.raises(ValueError):
        CantaloupeClient(SETTINGS, FakeSession([])).purge_item("")


def _count(outcome: str) -> float:
    return PURGES.labels(outcome)._value.get()  # type: ignore[no-any-return]


def test_purger_retries_unavailable_then_succeeds() -> None:
    session = FakeSession([FakeResponse(502), requests.ConnectionError("x"), accepted()])
    waits: list[float] = []
    purger = Purger(CantaloupeClient(SETTINGS, session), attempts=4, sleep=waits.append)
    before = _count("ok")
    purger(ASSET)
    assert purger.done == 1 and waits == [0.5, 1.0]
    assert _count("ok") == before + 1


def test_purger_gives_up_after_its_attempts_and_on_refusal() -> None:
    failing = FakeSession([FakeResponse(503)] * 3)
    before = _count("failed")
    Purger(CantaloupeClient(SETTINGS, failing), attempts=3, sleep=lambda _: None)(ASSET)
    assert _count("failed") == before + 1 and not failing.answers
    refused = FakeSession([FakeResponse(403), accepted()])
    Purger(CantaloupeClient(SETTINGS, refused), sleep=lambda _: None)(ASSET)
    assert len(refused.calls) == 1


def test_purger_ignores_events_without_an_asset() -> None:
    session = FakeSession([])
    Purger(CantaloupeClient(SETTINGS, session))(None)
    assert session.calls == []


def test_purger_config_from_environment() -> None:
    env = {
        "DISAN_DATABASE_URL": "postgresql://u:p@db/disan",
        "DISAN_S3_ACCESS_KEY": "a",
        "DISAN_S3_SECRET_KEY": "b",
    }
    settings = load_settings(env=env)
    with pytest.raises(ConfigError):
        load_config(settings, env={})
    config = load_config(
        settings,
        env={
            "DISAN_CANTALOUPE_API_SECRET": "s",
            "DISAN_CANTALOUPE_URL": "http://cantaloupe:8182",
            "DISAN_OPS_PORT_CANTALOUPE_PURGER": "9200",
        },
    )
    assert config.cantaloupe.url == "http://cantaloupe:8182"
    assert config.cantaloupe.username == "disan" and config.ops_port == 9200
