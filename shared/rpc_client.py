"""The one way to call a platform service: RPC with a deadline, typed errors and request keys.

The gateway calls every service with it; services that call others (iiif's feeds, notifications)
use the same client, so a call without an answer is a 503 everywhere, never a hang, and every
call carries an idempotency key derived from its request's (``shared.idempotency``). The server
side of these calls is :mod:`shared.rpc`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import eventlet
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, ServiceProxy
from werkzeug.wrappers import Request

from shared import idempotency
from shared.bus import BROKER_GONE
from shared.errors import DisanError, Unavailable
from shared.rpc import call

Unpack = Callable[[str, str], DisanError | None]


class ServiceClient:
    """Calls one service; no answer within the deadline is a 503, never a hang."""

    def __init__(
        self,
        proxy: ServiceProxy,
        label: str,
        timeout: float,
        unpack: Unpack | None,
        refusal: DisanError | None = None,
    ) -> None:
        self.proxy = proxy
        self.label = label
        self.timeout = timeout
        self.unpack = unpack
        self.refusal = refusal  # a malformed Idempotency-Key: every call is refused (400)
        self.seen: dict[str, int] = {}  # calls per method in this worker (idempotency keys)

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """The method's result; a service's DisanError comes back typed, with its details.

        The call carries an idempotency key derived from the request's (``shared.idempotency``),
        so a redelivered or repeated call of a creating method acts once.
        """
        key = self._key_for(method)
        try:
            with eventlet.Timeout(timeout or self.timeout):
                return call(getattr(self.proxy, method), *args)
        except eventlet.Timeout as exc:
            raise outcome_unknown(self.label, key) from exc
        except BROKER_GONE as exc:  # the broker is down or restarting: 503, never a 500
            raise bus_unavailable(self.label, key) from exc
        except DisanError as exc:
            # a service that still packs details into its message (older replicas)
            detailed = self.unpack(type(exc).__name__, exc.message) if self.unpack else None
            if detailed is not None:
                raise detailed from None
            raise
        except RemoteError as exc:
            detailed = self.unpack(exc.exc_type, str(exc.value)) if self.unpack else None
            if detailed is not None:
                raise detailed from None
            raise

    def stable_id(self, *parts: str) -> str:
        """A UUID the same for every repeat of this request (same ``Idempotency-Key``, same
        ``parts``), for ids the gateway makes before a creating call (an upload's asset id)."""
        request_key = self.proxy.worker_ctx.data.get(idempotency.REQUEST_KEY)
        if not request_key:
            return str(uuid.uuid4())
        return str(uuid.uuid5(idempotency.NAMESPACE, "\n".join((str(request_key), *parts))))

    def _key_for(self, method: str) -> str | None:
        """Put this call's idempotency key into the context data its message headers carry."""
        if self.refusal is not None:
            raise self.refusal
        data = self.proxy.worker_ctx.data
        request_key = data.get(idempotency.REQUEST_KEY)
        if not request_key:
            data.pop(idempotency.CALL_KEY, None)
            return None
        key = idempotency.call_key(str(request_key), method, self.seen)
        data[idempotency.CALL_KEY] = key
        return key


def outcome_unknown(label: str, key: str | None) -> Unavailable:
    """The 503 of a call that got no answer in time: the request went out, so it may have been
    carried out (or still be); repeating it with the same ``Idempotency-Key`` is safe."""
    request_key = key.split("#", 1)[0] if key else None
    return Unavailable(
        f"the {label} did not answer in time; the action may have been carried out (or may "
        f"still be): repeat the request with the same {idempotency.HEADER} header"
        + (f" ({request_key})" if request_key else "")
        + " to get its result without doing it twice",
        {
            "reason": "outcome_unknown",
            "idempotency_key": request_key,
            "text": {
                "vi": f"Dịch vụ ({label}) không trả lời kịp; thao tác có thể đã (hoặc sẽ) được "
                f"thực hiện. Hãy gửi lại yêu cầu với cùng tiêu đề {idempotency.HEADER} để nhận "
                "kết quả mà không thực hiện hai lần.",
                "en": f"The {label} did not answer in time; the action may have been (or may "
                f"still be) carried out. Repeat the request with the same "
                f"{idempotency.HEADER} header to get its result without doing it twice.",
            },
        },
    )


#: seconds a client is told to wait (``Retry-After``) while the message bus is unreachable
BUS_RETRY_AFTER = 5


def bus_unavailable(label: str, key: str | None) -> Unavailable:
    """The 503 of a call made while the message bus is unreachable (a broker restart). The
    request may have left before the connection broke, so it is not said to be undone: the
    same ``Idempotency-Key`` makes repeating it safe."""
    request_key = key.split("#", 1)[0] if key else None
    return Unavailable(
        f"the message bus is unreachable, the {label} cannot be asked now; repeat the request "
        f"in a few seconds with the same {idempotency.HEADER} header"
        + (f" ({request_key})" if request_key else ""),
        {
            "reason": "bus_unavailable",
            "retry_after": BUS_RETRY_AFTER,
            "idempotency_key": request_key,
            "text": {
                "vi": f"Hệ thống truyền tin tạm thời không liên lạc được, chưa hỏi được {label}. "
                f"Hãy gửi lại yêu cầu sau vài giây với cùng tiêu đề {idempotency.HEADER}.",
                "en": f"The message bus is unreachable for now, the {label} cannot be asked. "
                f"Repeat the request in a few seconds with the same {idempotency.HEADER} "
                "header.",
            },
        },
    )


class ServiceRpc(RpcProxy):  # type: ignore[misc]
    """RPC to ``service`` (config key ``DISAN_<SERVICE>_SERVICE`` renames it, for tests)."""

    def __init__(
        self, service: str, label: str, timeout: float = 30.0, unpack: Unpack | None = None
    ) -> None:
        super().__init__(service)
        self.service = service
        self.label = label
        self.timeout = timeout
        self.unpack = unpack

    def setup(self) -> None:
        key = f"DISAN_{self.service.upper()}_SERVICE"
        self.target_service = self.container.config.get(key, self.service)
        super().setup()

    def get_dependency(self, worker_ctx: Any) -> ServiceClient:
        proxy = ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener)
        refusal = take_request_key(worker_ctx)
        return ServiceClient(proxy, self.label, self.timeout, self.unpack, refusal)


def take_request_key(worker_ctx: Any) -> DisanError | None:
    """Give an HTTP worker its request's idempotency key (the ``Idempotency-Key`` header,
    else a new one) in the context data its RPCs carry; the 400 of a malformed header.

    An RPC worker that was called with a key calls on under a key of its own call (its key,
    service and method), so the calls it makes never share a key with its caller's calls of
    the same method; a redelivery derives the same keys. Event workers have none.
    """
    data = worker_ctx.data
    request = worker_ctx.args[0] if worker_ctx.args else None
    if not isinstance(request, Request):
        call_key = data.get(idempotency.CALL_KEY)
        if call_key:
            entry = f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}"
            data[idempotency.REQUEST_KEY] = f"{call_key}>{entry}"
        return None
    if idempotency.REQUEST_KEY in data:
        return None
    try:
        data.update(idempotency.request_context(request.headers.get(idempotency.HEADER)))
    except DisanError as exc:
        return exc
    return None
