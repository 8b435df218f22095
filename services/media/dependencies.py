"""Resources of the media service, built in ``setup()``: the object store and the limits."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.media.domain import MASTERS_BUCKET, MediaLimits
from shared.buckets import DERIVATIVES_BUCKET
from shared.storage import ObjectStore


class Storage(DependencyProvider):  # type: ignore[misc]
    """One ``ObjectStore`` per container (its connection pool is shared by the workers)."""

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        self.store = ObjectStore(settings.s3, timeout=120.0)
        for bucket in (MASTERS_BUCKET, DERIVATIVES_BUCKET):
            self.store.ensure_bucket(bucket)

    def get_dependency(self, worker_ctx: Any) -> ObjectStore:
        return self.store


class Limits(DependencyProvider):  # type: ignore[misc]
    """The limits on untrusted input, from ``extra.media`` of the config file."""

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        self.limits = MediaLimits.from_config(settings.extra.get("media"))

    def get_dependency(self, worker_ctx: Any) -> MediaLimits:
        return self.limits
