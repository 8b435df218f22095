"""The gateway's one way to call a platform service: RPC with a deadline and typed errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import eventlet
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, ServiceProxy

from shared.errors import DisanError, Unavailable
from shared.rpc import call

Unpack = Callable[[str, str], DisanError | None]


class ServiceClient:
    """Calls one service; no answer within the deadline is a 503, never a hang."""

    def __init__(
        self, proxy: ServiceProxy, label: str, timeout: float, unpack: Unpack | None
    ) -> None:
        self.proxy = proxy
        self.label = label
        self.timeout = timeout
        self.unpack = unpack

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """The method's result; a service's DisanError comes back typed, with its details."""
        try:
            with eventlet.Timeout(timeout or self.timeout):
                return call(getattr(self.proxy, method), *args)
        except eventlet.Timeout as exc:
            raise Unavailable(f"the {self.label} did not answer in time") from exc
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
        return ServiceClient(proxy, self.label, self.timeout, self.unpack)
