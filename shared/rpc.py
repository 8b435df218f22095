"""The RPC entrypoint of Disan services: commits the worker's transaction before it answers.

nameko sends an RPC reply from the entrypoint's ``handle_result``, before dependencies see the
worker's result, so ``Database`` alone would commit only after the caller has its answer: the
caller could then fail to read what it just wrote. This entrypoint commits every database session
of the worker first; if the commit fails, the caller gets that error instead of a success.
Client errors (``DisanError``) are expected exceptions: logged as warnings, not errors.
A reply or ack that fails because the broker went away (a restart) is logged, not raised: raised,
it would kill the container; unacked, the request is redelivered after the reconnection and its
idempotent method answers the same (ADR 0012).

nameko sends an error's type name, ``str()`` and ``args`` to the caller. A ``DisanError``'s
``details`` (per-field problems, an import report) travel as JSON in one extra argument
(``{"x-disan-error": "{\"details\": …}"}``), while the type name and message stay what nameko
callers always saw. :func:`call` (or :func:`remote_error` on a reply) turns a remote error back
into the typed ``shared.errors`` exception, ``details`` included.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

from nameko.exceptions import RemoteError
from nameko.rpc import Rpc

from shared import errors
from shared.bus import BROKER_GONE
from shared.db import Database
from shared.errors import DisanError

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)


def commit_worker(worker_ctx: Any) -> None:
    """Commit the database sessions a worker opened (no-op for those it did not)."""
    for dependency in worker_ctx.container.dependencies:
        if isinstance(dependency, Database):
            session = dependency.sessions.get(worker_ctx)
            if session is not None:
                session.commit()


DETAILS_ARG = "x-disan-error"


def for_the_wire(exc: DisanError) -> DisanError:
    """A copy of ``exc`` whose ``args`` carry its details (and code) as JSON for nameko."""
    if exc.details is None:
        return exc
    carried = {"details": exc.details, "code": exc.code, "kind": _kind(type(exc))}
    wire = copy.copy(exc)
    wire.args = (exc.message, {DETAILS_ARG: json.dumps(carried, default=str, ensure_ascii=False)})
    return wire


def _kind(cls: type) -> str:
    """The name of the ``shared.errors`` class ``cls`` is (or derives from)."""
    for base in cls.__mro__:
        if getattr(errors, base.__name__, None) is base:
            return str(base.__name__)
    return DisanError.__name__


def _carried(error: dict[str, Any]) -> dict[str, Any] | None:
    for arg in error.get("exc_args") or ():
        if isinstance(arg, dict) and isinstance(arg.get(DETAILS_ARG), str):
            try:
                value = json.loads(arg[DETAILS_ARG])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def remote_error(error: dict[str, Any]) -> DisanError | None:
    """The typed error an RPC reply's ``error`` stands for, or None if it is no DisanError.

    Known ``shared.errors`` type names come back as that class; a service's own subclass comes
    back as the ``shared.errors`` class it derives from, with its code. ``details`` are kept.
    """
    exc_type = str(error.get("exc_type") or "")
    carried = _carried(error) or {}
    cls = getattr(errors, carried.get("kind") or exc_type, None)
    if not isinstance(cls, type) or not issubclass(cls, DisanError):
        return None
    message = str(error.get("value") or "")
    typed = cls(message, carried.get("details"))
    if carried.get("code") and carried["code"] != cls.code:
        typed.code = str(carried["code"])
    return typed


def call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a nameko RPC method proxy; a remote DisanError is raised as its typed self.

    Anything else remote is nameko's ``RemoteError`` as before. The typed error keeps the
    ``RemoteError`` as its cause.
    """
    reply = method.call_async(*args, **kwargs)
    try:
        return reply.result()
    except RemoteError as exc:
        typed = remote_error((reply.resp_body or {}).get("error") or {})
        if typed is None:
            raise
        raise typed from exc


class CommittingRpc(Rpc):  # type: ignore[misc]
    def handle_result(
        self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        if exc_info is None:
            try:
                commit_worker(worker_ctx)
            except Exception:  # noqa: BLE001 - the caller must learn the write failed
                result, exc_info = None, sys.exc_info()
        elif isinstance(exc_info[1], DisanError):
            exc_info = (exc_info[0], for_the_wire(exc_info[1]), exc_info[2])
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)  # type: ignore[no-any-return]
        except BROKER_GONE:
            # the reply or the ack went over a connection the broker reset (a restart): the
            # unacked request comes back once the consumer reconnects and, being idempotent,
            # answers the same. Raising here would kill the container (and exit the service).
            log.warning(
                "could not reply to or ack %s over a lost connection; the broker redelivers it",
                worker_ctx.entrypoint.method_name,
                exc_info=True,
            )
            return result, exc_info


def rpc(fn: F) -> F:
    """Expose a service method over RPC, committed before the reply."""
    return cast(F, CommittingRpc.decorator(expected_exceptions=(DisanError,))(fn))
