"""The RPC entrypoint of Disan services: commits the worker's transaction before it answers.

nameko sends an RPC reply from the entrypoint's ``handle_result``, before dependencies see the
worker's result, so ``Database`` alone would commit only after the caller has its answer: the
caller could then fail to read what it just wrote. This entrypoint commits every database session
of the worker first; if the commit fails, the caller gets that error instead of a success.
Client errors (``DisanError``) are expected exceptions: logged as warnings, not errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

from nameko.rpc import Rpc

from shared.db import Database
from shared.errors import DisanError

F = TypeVar("F", bound=Callable[..., Any])


def commit_worker(worker_ctx: Any) -> None:
    """Commit the database sessions a worker opened (no-op for those it did not)."""
    for dependency in worker_ctx.container.dependencies:
        if isinstance(dependency, Database):
            session = dependency.sessions.get(worker_ctx)
            if session is not None:
                session.commit()


class CommittingRpc(Rpc):  # type: ignore[misc]
    def handle_result(
        self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        if exc_info is None:
            try:
                commit_worker(worker_ctx)
            except Exception:  # noqa: BLE001 - the caller must learn the write failed
                result, exc_info = None, sys.exc_info()
        return super().handle_result(message, worker_ctx, result, exc_info)  # type: ignore[no-any-return]


def rpc(fn: F) -> F:
    """Expose a service method over RPC, committed before the reply."""
    return cast(F, CommittingRpc.decorator(expected_exceptions=(DisanError,))(fn))
