"""A small typed client for Cantaloupe's HTTP API: cache purges through its tasks endpoint.

Cantaloupe (the IIIF image server many museums run) takes asynchronous tasks at ``POST /tasks``
with HTTP Basic credentials (``endpoint.api.username``/``secret``) and a JSON body naming a verb,
answers ``202 Accepted`` with the task's URL in ``Location``, and reports the task's progress at
that URL. No maintained Python client exists, so this is ours; it only knows the cache verbs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import requests

__all__ = [
    "CantaloupeClient",
    "CantaloupeError",
    "CantaloupeRefused",
    "CantaloupeSettings",
    "CantaloupeUnavailable",
    "Task",
    "TaskVerb",
]


class TaskVerb:
    """The task verbs of Cantaloupe 5 this client sends."""

    PURGE_ITEM = "PurgeItemFromCache"  # every cached derivative and info of one identifier
    PURGE_INVALID = "PurgeInvalidFromCache"  # what has outlived its time-to-live
    PURGE_ALL = "PurgeCache"  # the whole server-side cache
    EVICT_INFOS = "EvictInfosFromCache"  # the in-memory info cache


FINISHED = frozenset({"SUCCEEDED", "FAILED"})


class CantaloupeError(Exception):
    """Cantaloupe did not take or finish a task."""


class CantaloupeUnavailable(CantaloupeError):
    """Network failure, timeout or 5xx: worth trying again later."""


class CantaloupeRefused(CantaloupeError):
    """A 4xx answer: wrong credentials, the API disabled, an unknown verb. Retrying won't help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Cantaloupe answered {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class CantaloupeSettings:
    """Where Cantaloupe listens (its own port, not a proxy) and the API credentials."""

    url: str
    username: str
    secret: str
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Task:
    """One task as Cantaloupe reports it."""

    location: str
    verb: str
    status: str  # SUBMITTED, RUNNING, SUCCEEDED or FAILED
    identifier: str | None = None
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class HttpResponse(Protocol):
    status_code: int

    @property
    def headers(self) -> Any: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class HttpSession(Protocol):
    """What the client needs of ``requests.Session`` (tests pass a fake)."""

    def post(self, url: str, **kwargs: Any) -> Any: ...

    def get(self, url: str, **kwargs: Any) -> Any: ...


class CantaloupeClient:
    """Submit cache tasks to one Cantaloupe instance and follow them."""

    def __init__(self, settings: CantaloupeSettings, session: HttpSession | None = None) -> None:
        if not settings.secret:
            raise CantaloupeError("the Cantaloupe API secret is empty (endpoint.api.secret)")
        self.settings = settings
        self.base = settings.url.rstrip("/") + "/"
        self.session: HttpSession | requests.Session = (
            session if session is not None else requests.Session()
        )

    # tasks ------------------------------------------------------------------------------------
    def purge_item(self, identifier: str) -> str:
        """Drop every cached image and info of ``identifier``; returns the task's URL."""
        if not identifier:
            raise ValueError("an identifier is required")
        return self.submit(TaskVerb.PURGE_ITEM, identifier=identifier)

    def purge_invalid(self) -> str:
        return self.submit(TaskVerb.PURGE_INVALID)

    def purge_all(self) -> str:
        return self.submit(TaskVerb.PURGE_ALL)

    def submit(self, verb: str, **fields: str) -> str:
        """POST a task; returns the URL Cantaloupe gives it (``Location``)."""
        response = self._call(
            "post", "tasks", json={"verb": verb, **fields}, headers={"Accept": "application/json"}
        )
        if response.status_code not in (200, 202, 204):
            self._raise(response)
        location = response.headers.get("Location") or ""
        return urljoin(self.base, location) if location else ""

    def task(self, location: str) -> Task:
        """The state of the task at ``location``."""
        response = self._call("get", location, headers={"Accept": "application/json"})
        if response.status_code != 200:
            self._raise(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise CantaloupeUnavailable(f"task status is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise CantaloupeUnavailable("task status is not a JSON object")
        return Task(
            location=location,
            verb=str(body.get("verb", "")),
            status=str(body.get("status", "")).upper(),
            identifier=body.get("identifier"),
            message=body.get("exception") or body.get("message"),
        )

    def wait(self, location: str, timeout: float = 30.0, interval: float = 0.25) -> Task:
        """Poll the task until it has finished or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.task(location)
            if current.finished or time.monotonic() >= deadline:
                return current
            time.sleep(interval)

    def healthy(self) -> bool:
        """``GET /health`` answers 200 (Cantaloupe's own health endpoint)."""
        try:
            status: int = self._call("get", "health").status_code
        except CantaloupeUnavailable:
            return False
        return status == 200

    # transport ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = urljoin(self.base, path)
        kwargs.setdefault("timeout", self.settings.timeout_seconds)
        kwargs["auth"] = (self.settings.username, self.settings.secret)
        try:
            if method == "post":
                return self.session.post(url, **kwargs)
            return self.session.get(url, **kwargs)
        except requests.RequestException as exc:
            raise CantaloupeUnavailable(f"{method.upper()} {url}: {exc}") from exc

    @staticmethod
    def _raise(response: HttpResponse) -> None:
        message = (response.text or "").strip()[:300]
        if response.status_code >= 500:
            raise CantaloupeUnavailable(f"Cantaloupe answered {response.status_code}: {message}")
        raise CantaloupeRefused(response.status_code, message)
