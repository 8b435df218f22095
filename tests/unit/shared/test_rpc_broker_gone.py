"""An RPC entrypoint whose reply or ack meets a connection the broker reset returns instead of
raising: raised, the error would kill the container (catalogue and iiif exited so, issue 14)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import amqp
import kombu.exceptions
import pytest
from nameko.rpc import Rpc

from shared.rpc import CommittingRpc

LOST = [
    amqp.exceptions.RecoverableConnectionError("connection already closed"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError("Server unexpectedly closed connection"),
    kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
]


@pytest.mark.parametrize("error", LOST, ids=lambda e: type(e).__name__)
def test_a_reply_over_a_lost_connection_does_not_raise(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reply(self: Any, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        raise error

    monkeypatch.setattr(Rpc, "handle_result", reply)
    entrypoint = CommittingRpc()
    worker_ctx = SimpleNamespace(
        container=SimpleNamespace(dependencies=[]),
        entrypoint=SimpleNamespace(method_name="create_record"),
    )
    assert entrypoint.handle_result(object(), worker_ctx, {"id": "r1"}, None) == (
        {"id": "r1"},
        None,
    )


def test_other_errors_still_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def reply(self: Any, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(Rpc, "handle_result", reply)
    worker_ctx = SimpleNamespace(
        container=SimpleNamespace(dependencies=[]),
        entrypoint=SimpleNamespace(method_name="create_record"),
    )
    with pytest.raises(ValueError):
        CommittingRpc().handle_result(object(), worker_ctx, 1, None)
