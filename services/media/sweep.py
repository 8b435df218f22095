"""The orphan sweep: masters in S3 that no asset registered are removed after a grace period.

An upload is streamed to ``masters`` first and registered by RPC afterwards (ADR 050); if the
gateway dies in between, or a registration fails after its copy, the object stays with no row
pointing at it. Nobody can reach it, and it would be kept forever. The sweep lists the bucket,
keeps every key an asset version names, leaves anything younger than the grace period alone
(an upload may be between its last byte and its registration), and deletes the rest. An orphan
under the prefix of an asset that exists (a version whose registration failed) is logged in
that asset's preservation log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from services.media import repository as repo
from services.media.domain import MASTERS_BUCKET, premis_event
from shared.db import DbSession
from shared.storage import ObjectNotFound, ObjectStore

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
    return swept
