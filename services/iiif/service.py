"""The iiif service: IIIF Presentation 3.0 manifests, collections and Change Discovery.

It keeps its own projection of catalogue records, media assets and access policies, fed by
``catalogue.*``, ``media.*`` and ``access.policy_changed`` events (asking the catalogue and the
media service by RPC for what an event does not carry), builds each published record's manifest
from that projection alone (no network while building) and stores it built. The gateway serves
what this service returns (``services/gateway/presentation.py``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from nameko.timer import Timer, timer

from services.iiif import domain, feeds, manifests
from services.iiif import repository as repo
from services.iiif.annotations import AnnotationRpc
from services.iiif.feeds import CatalogueRpc, MediaRpc
from services.iiif.search import SearchRpc
from services.iiif.static import StaticManifests, StaticMirror
from shared import contracts  # noqa: F401 - registers the events this service consumes
from shared.consumer import reliable_handler
from shared.contracts.catalogue import RECORD_EVENTS
from shared.db import Database, DbSession
from shared.errors import BadRequest
from shared.events import Event
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.service import DisanService

log = logging.getLogger(__name__)

STALE_INTERVAL = 1.0
STALE_BATCH = 200
BUILDER_CHECK_INTERVAL = 86_400.0
MIRROR_INTERVAL = 0.5
EMBARGO_INTERVAL = 60.0  # extra.iiif.embargo_check_seconds (DISAN_IIIF_EMBARGO_CHECK_SECONDS)
EMBARGO_BATCH = 50


def embargo_interval(settings: Any) -> float:
    """Seconds between two looks for ended embargoes (``extra.iiif.embargo_check_seconds``)."""
    raw = ((getattr(settings, "extra", None) or {}).get("iiif") or {}).get("embargo_check_seconds")
    if raw in (None, ""):
        return EMBARGO_INTERVAL
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"extra.iiif.embargo_check_seconds is a number, not {raw!r}") from None
    if not 0.1 <= value <= 86_400:
        raise ValueError("extra.iiif.embargo_check_seconds is between 0.1 and 86400")
    return value


class EmbargoTimer(Timer):  # type: ignore[misc]
    """A nameko timer whose interval comes from the service's settings when it starts."""

    def setup(self) -> None:
        self.interval = embargo_interval(self.container.config.get("DISAN_SETTINGS"))


def release_ended_embargoes(db: DbSession, base: str, now: datetime, limit: int) -> list[str]:
    """Refresh the manifests of records whose embargo, or an asset's, ended by ``now`` and was
    not applied yet; returns the records refreshed. Idempotent: each policy is marked released
    in this transaction (a new policy clears the mark), rebuilt or not."""
    ids = repo.ended_embargoes(db, now, limit)
    if not ids:
        return []
    repo.mark_embargo_released(db, ids)
    records: list[str] = []
    for resource_id in ids:
        if not domain.is_uuid(resource_id):
            continue
        record_id = repo.record_of_asset(db, resource_id) or resource_id.lower()
        if record_id not in records:
            records.append(record_id)
    done: list[str] = []
    for record_id in records:
        # one record that cannot be rebuilt must not hold back the others (nor come back every
        # tick): its savepoint is rolled back, it is logged, a later event rebuilds it
        savepoint = db.connection.begin_nested()
        try:
            manifests.refresh(db, base, record_id, None)
        except Exception:
            savepoint.rollback()
            log.exception("embargo ended but the manifest of %s could not be rebuilt", record_id)
        else:
            savepoint.commit()
            done.append(record_id)
    return done


class IiifService(AnnotationRpc, SearchRpc, DisanService):
    name = "iiif"

    db = Database("iiif")
    relay = OutboxRelay("iiif")
    catalogue = CatalogueRpc("catalogue", "catalogue service", timeout=20.0)
    media = MediaRpc("media", "media service", timeout=20.0)
    static: StaticMirror | None = StaticManifests()

    @property
    def _base(self) -> str:
        return str(self.settings.public_url).rstrip("/")

    @property
    def _cid(self) -> str | None:
        return self.correlation or None

    # what the gateway serves -------------------------------------------------------------------
    @rpc
    def get_manifest(self, record_id: Any) -> dict[str, Any]:
        """The stored manifest of a published record: ``{"body", "etag", "public"}``; 404 else."""
        return manifests.served_manifest(self.db, self._base, record_id, self._cid)

    @rpc
    def has_manifest(self, record_id: Any) -> bool:
        """Whether a record has a manifest (published, with at least one canvas)."""
        return manifests.has_manifest(self.db, record_id)

    @rpc
    def with_manifests(self, record_ids: Any) -> list[str]:
        """Which of a list of record ids have a manifest (the LGSP feed's ``manifest`` links)."""
        return manifests.with_manifests(self.db, record_ids)

    @rpc
    def get_collection(self, name: Any, page: Any = None) -> dict[str, Any]:
        """A collection (or one page of a large one): ``{"body", "etag"}``."""
        return manifests.served_collection(self.db, self._base, name, page)

    @rpc
    def get_changes(self, page: Any = None) -> dict[str, Any]:
        """Change Discovery 1.0: the OrderedCollection, or one of its pages."""
        return manifests.served_changes(self.db, self._base, page)

    @rpc
    def canvas_size(self, canvas_id: Any) -> list[int] | None:
        """Width and height of a canvas the service shows, or None (for other services)."""
        if not isinstance(canvas_id, str):
            raise BadRequest("canvas_id is a URL")
        size = manifests.canvas_size(self.db, canvas_id)
        return list(size) if size is not None else None

    @rpc
    def rebuild_manifests(self) -> dict[str, Any]:
        """Rebuild every published record's manifest from the projection (operators, bench)."""
        return manifests.rebuild_all(self.db, self._base, self._cid)

    # projection of the catalogue ---------------------------------------------------------------
    @reliable_handler(*RECORD_EVENTS)
    def handle_record_event(self, event: Event) -> None:
        feeds.apply_record_event(self.db, self.catalogue, event)
        manifests.refresh(self.db, self._base, str(event.data["record_id"]), event.correlation_id)

    # projection of media -----------------------------------------------------------------------
    @reliable_handler(
        "media.asset_ingested",
        "media.derivative_ready",
        "media.asset_failed",
        "media.asset_deleted",
        "media.asset_replaced",
    )
    def handle_asset_event(self, event: Event) -> None:
        feeds.apply_asset_event(self.db, self.media, event)
        manifests.refresh(self.db, self._base, str(event.data["record_id"]), event.correlation_id)

    @reliable_handler("media.assets_reordered")
    def handle_assets_reordered(self, event: Event) -> None:
        feeds.apply_order_event(self.db, self.media, event)
        manifests.refresh(self.db, self._base, str(event.data["record_id"]), event.correlation_id)

    # projection of access policies -------------------------------------------------------------
    @reliable_handler("access.policy_changed")
    def handle_policy_changed(self, event: Event) -> None:
        data = event.data
        resource_id = str(data["resource_id"])
        until = data.get("embargo_until")
        repo.apply_policy(
            self.db,
            resource_id,
            str(data["level"]),
            datetime.fromisoformat(until) if isinstance(until, str) else until,
            event.occurred_at,
        )
        # an asset's policy puts (or takes) the probe service on its content resources
        record_id = (
            resource_id
            if data["resource_kind"] == "record"
            else repo.record_of_asset(self.db, resource_id)
            if domain.is_uuid(resource_id)
            else None
        )
        if record_id is not None and domain.is_uuid(record_id):
            manifests.refresh(self.db, self._base, record_id, event.correlation_id)

    # a new release's builder or another public URL: every manifest rebuilt ------------------
    @timer(interval=BUILDER_CHECK_INTERVAL, eager=True)  # type: ignore[untyped-decorator]
    def check_builder(self) -> None:
        """At start (and daily): mark all manifests stale when the builder changed (ADR 0060)."""
        manifests.rebuild_if_builder_changed(self.db, self._base)

    # manifests marked for rebuild by others (annotations) --------------------------------------
    @timer(interval=STALE_INTERVAL)  # type: ignore[untyped-decorator]
    def rebuild_stale(self) -> None:
        manifests.rebuild_stale(self.db, self._base, STALE_BATCH)

    # embargoes ending by the clock (no event says so) ----------------------------------------
    @EmbargoTimer.decorator(interval=EMBARGO_INTERVAL)  # type: ignore[untyped-decorator]
    def release_embargoes(self) -> None:
        """Rebuild the manifests of records whose (or whose assets') embargo has ended.

        Each ended embargo is taken once: its policy row is locked (SKIP LOCKED, so replicas
        share the work) and marked released in the transaction that rebuilds the manifest; a
        new policy clears the mark. The clock is this process's, as in ``effective_level``.
        """
        release_ended_embargoes(self.db, self._base, datetime.now(UTC), EMBARGO_BATCH)

    # public manifests as files for the nginx front (ADR 0061) -----------------------------------
    @timer(interval=MIRROR_INTERVAL)  # type: ignore[untyped-decorator]
    def mirror_public_manifests(self) -> None:
        if self.static is None:
            repo.clear_mirror_queue(self.db)
            return
        self.static.sync(self.db)
