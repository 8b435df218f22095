"""The orphan sweep: masters in S3 that no asset registered are removed after a grace period.

An upload is streamed to ``masters`` first and registered by RPC afterwards (ADR 0050); if the
gateway dies in between, or a registration fails after its copy, the object stays with no row
pointing at it. Nobody can reach it, and it would be kept forever. The sweep lists the bucket,
keeps every key an asset version names, leaves anything younger than the grace period alone
(an upload may be between its last byte and its registration), and deletes the rest. An orphan
under the prefix of an asset that exists (a version whose registration failed) is logged in
that asset's preservation log. Multipart uploads begun (presigned, ADR 0050) and never
completed or aborted are aborted after the same grace period: S3 keeps their parts, unseen and
billed, until someone does (their part URLs expire long before, after 6 hours). Their age
counts from when the sweep first saw them pending (``pending_uploads``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from services.media import repository as repo
from services.media.domain import MASTERS_BUCKET, premis_event
from shared.db import DbSession
from shared.storage import ObjectNotFound, ObjectStore, StorageError

log = logging.getLogger(__name__)

_ASSET_OF_KEY = re.compile(
    r"^(?:assets|uploads)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


@dataclass(frozen=True)
class Orphan:
    key: str
    size: int
    last_modified: str | None
    asset_id: str | None  # the asset whose prefix it is under, when that asset exists
    removed: bool
    kind: str = "object"  # "object": a stored master; "multipart": an unfinished upload

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sweep_orphans(
    db: DbSession,
    store: ObjectStore,
    grace: timedelta,
    agent: str = "media:sweep",
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[Orphan]:
    """Find (and unless ``dry_run`` delete) masters no asset version names, older than ``grace``."""
    now = now or datetime.now(UTC)
    known = repo.known_master_keys(db)
    found = [
        o
        for o in store.list_objects(MASTERS_BUCKET)
        if o.key not in known and (o.last_modified is None or now - o.last_modified >= grace)
    ]
    ids = {o.key: m.group(1) for o in found if (m := _ASSET_OF_KEY.match(o.key))}
    existing = repo.existing_asset_ids(db, sorted(set(ids.values())))
    swept = []
    for o in found:
        asset_id = ids.get(o.key) if ids.get(o.key) in existing else None
        if not dry_run:
            try:
                store.delete(MASTERS_BUCKET, o.key)
            except ObjectNotFound:
                pass
            log.warning("removed orphan master %s (%d bytes)", o.key, o.size)
            if asset_id is not None:
                repo.add_event(
                    db,
                    asset_id,
                    premis_event(
                        "deletion",
                        agent,
                        stage="orphan",
                        key=o.key,
                        size=o.size,
                        reason="stored in masters but never registered as a version",
                    ),
                )
        stamp = o.last_modified.isoformat() if o.last_modified else None
        swept.append(Orphan(o.key, o.size, stamp, asset_id, not dry_run))
    swept += _abort_unfinished_uploads(db, store, grace, dry_run, now)
    return swept


def _abort_unfinished_uploads(
    db: DbSession, store: ObjectStore, grace: timedelta, dry_run: bool, now: datetime
) -> list[Orphan]:
    """Abort multipart uploads into ``masters`` pending for ``grace`` since the sweep first saw
    them (S3's own start time is not trusted: moto reports a fixed date)."""
    pending = {u.upload_id: u.key for u in store.list_multipart_uploads(MASTERS_BUCKET)}
    first_seen = repo.pending_uploads_seen(db, pending, now, remember=not dry_run)
    aborted = []
    for upload_id, key in pending.items():
        if now - first_seen[upload_id] < grace:
            continue
        if not dry_run:
            try:
                store.abort_multipart(MASTERS_BUCKET, key, upload_id)
            except (ObjectNotFound, StorageError) as exc:  # completed or aborted meanwhile
                log.info("multipart upload of %s already gone: %s", key, exc)
                continue
            finally:
                repo.forget_pending_upload(db, upload_id)
            log.warning("aborted an unfinished multipart upload of %s", key)
        stamp = first_seen[upload_id].isoformat()
        aborted.append(Orphan(key, 0, stamp, None, not dry_run, "multipart"))
    return aborted
