"""Image cache purges from events: ``media.*`` and ``access.policy_changed`` on ``disan.events``
(plus, for a consumer that keeps access decisions, the account events that end sessions).

The image server forgets tiles and decisions with them, and each Cantaloupe purger turns them
into ``PurgeItemFromCache`` tasks: the same events, the same reading of them, so both take them
from here. A purge is a broadcast (every replica must hear it) and losing one only serves a
stale tile until the cache entry ages out, so they come through ``shared.broadcast``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.broadcast import BroadcastConsumer, Envelope

__all__ = ["ACCESS_BINDINGS", "PURGE_BINDINGS", "PurgeConsumer", "purge_target"]

PURGE_BINDINGS = ("media.*", "access.policy_changed")
#: Events after which cached access decisions (sessions, tokens) may be wrong.
ACCESS_BINDINGS = (
    "access.record_visibility_changed",
    "access.logged_out",
    "access.user_roles_changed",
    "access.user_disabled",
    "access.password_changed",
)


def purge_target(body: Any) -> tuple[bool, str | None]:
    """From an event envelope: (purge at all?, the asset id or ``None`` for everything)."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return False, None
    if not isinstance(body, dict):
        return False, None
    kind = body.get("type")
    data = body.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return False, None
    asset_id = data.get("asset_id")
    if not asset_id and data.get("resource_kind") == "asset":
        asset_id = data.get("resource_id")  # access.policy_changed of one asset
    if isinstance(asset_id, str) and asset_id:
        return True, asset_id
    if kind.startswith("access."):
        return True, None  # a policy of a record or a role: forget every decision
    return False, None


def _is_access(body: Any) -> bool:
    if isinstance(body, bytes | str):
        body = json.loads(body)
    return str(body.get("type", "")).startswith("access.")


class PurgeConsumer(BroadcastConsumer):
    """Consumes purge events until ``stop()``, reconnecting with backoff; never raises.

    With ``on_access``, ``access.*`` events go there instead of to ``on_purge`` (they change
    who may see an image, not the image) and the session-ending events are consumed too.
    """

    def __init__(
        self,
        amqp_uri: str,
        on_purge: Callable[[str | None], None],
        on_access: Callable[[str | None], None] | None = None,
        queue_prefix: str = "disan.imageserver.purge",
    ) -> None:
        keys = PURGE_BINDINGS + (ACCESS_BINDINGS if on_access else ())
        super().__init__(amqp_uri, keys, self._apply, queue_prefix)
        self.on_purge = on_purge
        self.on_access = on_access

    def _apply(self, body: Envelope) -> None:
        wanted, asset_id = purge_target(body)
        if wanted and self.on_access is not None and _is_access(body):
            self.on_access(asset_id)
        elif wanted:
            self.on_purge(asset_id)
