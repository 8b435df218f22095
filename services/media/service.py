"""The media service: assets of records, immutable masters, derivatives, preservation.

Upload bytes never travel over RPC: the gateway streams them into an upload sink this service
opens in ``masters`` (``open_upload``, presigned part URLs, ``close_upload``; ADR 0056), or a
client writes them there through presigned multipart URLs, and then asks this service to check
and register the object (``register_upload`` / ``complete_multipart``). The derivative worker
consumes ``media.asset_ingested``. See ``docs/decisions/0050-media-upload-path.md``.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from nameko.timer import timer

from services.media import ingest, ordering, preservation, schemas, sink, sweep, worker
from services.media import repository as repo
from services.media.dependencies import Limits, Storage
from services.media.domain import FORMATS, MASTERS_BUCKET, master_key, refusal_details
from shared.buckets import DERIVATIVES_BUCKET
from shared.consumer import reliable_handler
from shared.db import Database
from shared.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, ValidationFailed
from shared.events import Event
from shared.idempotency import idempotent
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.service import DisanService
from shared.storage import PART_SIZE, StorageError

PRESIGN_EXPIRES = timedelta(hours=6)
FIXITY_INTERVAL = 24 * 3600
SWEEP_INTERVAL = 3600  # orphan masters: hourly, each removed once past its grace period


def _agent(actor: Any) -> str:
    if not isinstance(actor, dict):
        raise BadRequest("actor must be a principal")
    return f"{actor.get('kind', 'user')}:{actor.get('id') or actor.get('name', '?')}"


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"no such {what}") from None


class MediaService(DisanService):
    name = "media"

    db = Database("media")
    relay = OutboxRelay("media")
    store = Storage()
    limits = Limits()

    def _asset(self, asset_id: Any, lock: bool = False) -> dict[str, Any]:
        row = repo.get_asset(self.db, _uuid(asset_id, "asset"), lock)
        if row is None:
            raise NotFound("no such asset")
        return row

    # ingest ----------------------------------------------------------------------------------
    @rpc
    @idempotent
    def register_upload(
        self,
        actor: Any,
        record_id: Any,
        asset_id: Any,
        key: Any,
        sha256: Any,
        filename: Any = "",
        metadata: Any = None,
    ) -> dict[str, Any]:
        """Check an object the gateway streamed to ``masters`` and make it an asset."""
        asset = ingest.register(
            self.db,
            self.store,
            self.limits,
            actor=_agent(actor),
            record_id=_uuid(record_id, "record"),
            asset_id=_uuid(asset_id, "asset"),
            key=str(key),
            sha256=str(sha256),
            filename=str(filename or ""),
            metadata=dict(metadata or {}),
            correlation_id=self.correlation or None,
        )
        return schemas.dump_asset(asset)

    @rpc
    @idempotent
    def replace_master(
        self, actor: Any, asset_id: Any, key: Any, sha256: Any, filename: Any = ""
    ) -> dict[str, Any]:
        """A new version of an asset's master; the old one stays in storage and in the log."""
        try:
            old = self._asset(asset_id, lock=True)
            if old["deleted_at"] is not None:
                raise Conflict("the asset is deleted")
        except (NotFound, Conflict):
            if str(key).startswith("uploads/"):  # the staged file is nobody's: no orphan
                ingest.discard(self.store, str(key))
            raise
        asset = ingest.register(
            self.db,
            self.store,
            self.limits,
            actor=_agent(actor),
            record_id=str(old["record_id"]),
            asset_id=str(old["id"]),
            key=str(key),
            sha256=str(sha256),
            filename=str(filename or ""),
            metadata=dict(old["metadata"]),
            correlation_id=self.correlation or None,
            replaces=old,
        )
        return schemas.dump_asset(asset)

    @rpc
    @idempotent
    def start_multipart(
        self, actor: Any, record_id: Any, size: Any, content_type: Any = "application/octet-stream"
    ) -> dict[str, Any]:
        """Presigned URLs for a client to upload a large file in parts, straight to S3."""
        _agent(actor)
        if not isinstance(size, int) or size <= 0:
            raise ValidationFailed("size is the file's length in bytes")
        if size > self.limits.max_upload_bytes:
            raise PayloadTooLarge(
                f"a file is at most {self.limits.max_upload_bytes} bytes",
                refusal_details("too_large"),
            )
        part_size = max(PART_SIZE, math.ceil(size / 10_000))
        count = math.ceil(size / part_size)
        asset_id = str(uuid.uuid4())
        key = ingest.staging_key(asset_id)
        upload_id = self.store.create_multipart(MASTERS_BUCKET, key, str(content_type))
        parts = [
            {
                "part_number": n,
                "url": self.store.presigned_part(
                    MASTERS_BUCKET, key, upload_id, n, PRESIGN_EXPIRES
                ),
            }
            for n in range(1, count + 1)
        ]
        return {
            "asset_id": asset_id,
            "record_id": _uuid(record_id, "record"),
            "upload_id": upload_id,
            "part_size": part_size,
            "parts": parts,
            "expires_in": int(PRESIGN_EXPIRES.total_seconds()),
        }

    @rpc
    @idempotent
    def complete_multipart(
        self,
        actor: Any,
        record_id: Any,
        asset_id: Any,
        upload_id: Any,
        expected_sha256: Any = None,
        filename: Any = "",
        metadata: Any = None,
    ) -> dict[str, Any]:
        """Assemble the parts, hash the result, then check and register it like any upload."""
        asset_id = _uuid(asset_id, "asset")
        key = ingest.staging_key(asset_id)
        try:
            self.store.complete_multipart(MASTERS_BUCKET, key, str(upload_id))
        except StorageError as exc:
            raise NotFound(f"no such multipart upload ({exc})") from None
        actual = self.store.sha256_of(MASTERS_BUCKET, key)
        if expected_sha256 and actual != str(expected_sha256).lower():
            self.store.delete(MASTERS_BUCKET, key)
            raise ValidationFailed(
                f"SHA-256 mismatch: expected {expected_sha256}, got {actual}",
                refusal_details("checksum_mismatch"),
            )
        registered: dict[str, Any] = self.register_upload(
            actor, record_id, asset_id, key, actual, filename, metadata
        )
        return registered

    # the upload sink: the gateway streams an upload here without naming a bucket (ADR 0056) ----
    @rpc
    def open_upload(
        self,
        actor: Any,
        asset_id: Any,
        ext: Any,
        content_type: Any = "application/octet-stream",
        stage: Any = None,
    ) -> dict[str, Any]:
        """Open a sink for one upload: at the asset's master key, or (``stage``, a UUID) at a
        staging key; the sink, the part size and the key the asset's first master has. Not
        idempotent: a repeated request writes anew (into a staging key once registered)."""
        _agent(actor)
        key = sink.sink_key(asset_id, ext, stage)
        opened = sink.open_sink(self.store, key, str(content_type))
        return opened | {"master_key": sink.sink_key(asset_id, ext, None)}

    @rpc
    def upload_part_urls(self, upload: Any, first: Any, count: Any) -> list[str]:
        """Presigned PUT URLs for parts ``first`` … ``first + count - 1`` of a sink."""
        return sink.part_urls(self.store, upload, first, count)

    @rpc
    def close_upload(self, upload: Any) -> dict[str, Any]:
        """Assemble a sink's parts into its object (checked and registered by a later call)."""
        return sink.close_sink(self.store, upload)

    @rpc
    def discard_upload(self, upload: Any) -> dict[str, Any]:
        """Remove a sink and its object (a refused or repeated upload); a registered master
        is never removed."""
        return {"discarded": sink.discard_sink(self.db, self.store, upload)}

    @rpc
    def content_url(self, asset_id: Any, name: Any, expires_s: Any = 900) -> str:
        """A presigned GET URL of an asset's original (``original.{ext}``) or of one of its
        derivatives, for the IIIF content redirect: the gateway never names a bucket."""
        asset = schemas.dump_asset(self._asset(asset_id))
        if not isinstance(expires_s, int) or not 1 <= expires_s <= 7 * 24 * 3600:
            raise BadRequest("expires_s is seconds, at most a week")
        if not isinstance(name, str) or not name or ".." in name or name.startswith("/"):
            raise NotFound("no such content resource")
        if name.startswith("original."):
            fmt = FORMATS.get(str(asset.get("format")))
            if fmt is None:
                raise NotFound("no such content resource")
            bucket = MASTERS_BUCKET
            key = master_key(str(asset["asset_id"]), fmt.ext, int(asset.get("version") or 1))
        else:
            bucket, key = DERIVATIVES_BUCKET, f"assets/{asset['asset_id']}/{name}"
        return str(self.store.presigned_get(bucket, key, timedelta(seconds=expires_s)))

    # reading -----------------------------------------------------------------------------------
    @rpc
    def get_asset(self, asset_id: Any) -> dict[str, Any]:
        return schemas.dump_asset(self._asset(asset_id))

    @rpc
    def list_assets(self, record_id: Any) -> list[dict[str, Any]]:
        rows = repo.assets_of_record(self.db, _uuid(record_id, "record"))
        return [schemas.dump_asset(r) for r in rows]

    @rpc
    def asset_events(self, asset_id: Any) -> list[dict[str, Any]]:
        asset = self._asset(asset_id)
        dumped: list[dict[str, Any]] = schemas.PreservationEventSchema(many=True).dump(
            repo.events(self.db, str(asset["id"]))
        )
        return dumped

    @rpc
    def asset_versions(self, asset_id: Any) -> list[dict[str, Any]]:
        asset = self._asset(asset_id)
        dumped: list[dict[str, Any]] = schemas.VersionSchema(many=True).dump(
            repo.versions(self.db, str(asset["id"]))
        )
        return dumped

    # deletion and preservation -----------------------------------------------------------------
    @rpc
    @idempotent
    def delete_asset(self, actor: Any, asset_id: Any) -> dict[str, Any]:
        """Soft delete: hidden at once, purged after the retention period by an admin."""
        asset = self._asset(asset_id, lock=True)
        preservation.soft_delete(
            self.db, asset, _agent(actor), self.limits, self.correlation or None
        )
        return schemas.dump_asset(self._asset(asset_id))

    @rpc
    @idempotent
    def set_order(self, actor: Any, record_id: Any, asset_ids: Any) -> list[dict[str, Any]]:
        """Put a record's assets in the order given (every asset of the record, once)."""
        rows = ordering.set_order(
            self.db,
            _uuid(record_id, "record"),
            ordering.asset_ids(asset_ids),
            _agent(actor),
            self.correlation or None,
        )
        return [schemas.dump_asset(r) for r in rows]

    @rpc
    def run_fixity(self, limit: int = 1000) -> list[dict[str, Any]]:
        results = preservation.run_fixity(self.db, self.store, int(limit))
        return [r.__dict__ for r in results]

    @timer(interval=FIXITY_INTERVAL, eager=False)  # type: ignore[untyped-decorator]
    def scheduled_fixity(self) -> None:
        preservation.run_fixity(self.db, self.store, 1000, agent="media:fixity-schedule")

    @rpc
    def sweep_orphans(self, grace_hours: Any = None, dry_run: bool = False) -> list[dict[str, Any]]:
        """Remove masters no asset registered, older than the grace period (ADR 0052)."""
        hours = self.limits.orphan_grace_hours if grace_hours is None else float(grace_hours)
        if not hours >= 0:
            raise BadRequest("grace_hours is a number of hours, 0 or more")
        found = sweep.sweep_orphans(
            self.db, self.store, timedelta(hours=hours), "media:sweep", bool(dry_run)
        )
        return [o.to_dict() for o in found]

    @timer(interval=SWEEP_INTERVAL, eager=False)  # type: ignore[untyped-decorator]
    def scheduled_sweep(self) -> None:
        grace = timedelta(hours=self.limits.orphan_grace_hours)
        sweep.sweep_orphans(self.db, self.store, grace, "media:sweep-schedule")

    # the derivative worker ---------------------------------------------------------------------
    @reliable_handler("catalogue.record_deleted")
    def handle_record_deleted(self, event: Event) -> None:
        """A deleted record's assets are soft-deleted with it (purged after the retention)."""
        for asset in repo.assets_of_record(self.db, event.data["record_id"]):
            preservation.soft_delete(
                self.db, asset, f"event:{event.type}", self.limits, event.correlation_id
            )

    @reliable_handler("media.asset_ingested")
    def handle_asset_ingested(self, event: Event) -> None:
        worker.make_derivatives(self.db, self.store, self.limits, event)
