"""Preservation: fixity checks of masters, soft-deleted assets purged, BagIt export.

Every check, deletion and purge is a preservation event; a master whose bytes no longer hash to
the SHA-256 recorded at ingest marks its asset and announces ``media.fixity_failed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.media import repository as repo
from services.media.domain import (
    MASTERS_BUCKET,
    MediaError,
    MediaLimits,
    premis_event,
    purge_after,
)
from shared.buckets import DERIVATIVES_BUCKET
from shared.db import DbSession
from shared.events import make_event
from shared.storage import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FixityResult:
    asset_id: str
    version: int
    ok: bool
    expected: str
    actual: str | None


def check_one(db: DbSession, store: ObjectStore, row: dict[str, Any], agent: str) -> FixityResult:
    """Re-read one master version; compare the SHA-256 of its bytes, S3's checksum and the
    ``sha256`` metadata with the digest recorded at ingest; log it; announce a mismatch."""
    asset_id = str(row["asset_id"])
    actual: str | None
    s3_checksum: str | None = None
    try:
        back = store.read_back(MASTERS_BUCKET, row["master_key"])
        actual, s3_checksum = back.sha256, back.s3_checksum
        detail = "; ".join(back.problems(row["sha256"]))
    except ObjectNotFound:
        actual, detail = None, "the master is missing from storage"
    ok = not detail
    repo.add_event(
        db,
        asset_id,
        premis_event(
            "fixity check",
            agent,
            "success" if ok else "failure",
            version=row["version"],
            algorithm="SHA-256",
            expected=row["sha256"],
            actual=actual,
            s3_checksum=s3_checksum,
            **({"problem": detail} if detail else {}),
        ),
    )
    repo.set_fixity(db, asset_id, ok)
    if not ok:
        log.error("fixity failed for asset %s v%s", asset_id, row["version"])
        db.publish(
            make_event(
                "media.fixity_failed",
                {
                    "asset_id": asset_id,
                    "record_id": str(row["record_id"]),
                    "version": row["version"],
                    "master_key": row["master_key"],
                    "expected_sha256": row["sha256"],
                    "actual_sha256": actual,
                    "detail": detail or "the master's bytes changed",
                },
                producer="media",
                actor=agent,
            )
        )
    return FixityResult(asset_id, row["version"], ok, row["sha256"], actual)


def soft_delete(
    db: DbSession,
    asset: dict[str, Any],
    agent: str,
    limits: MediaLimits,
    correlation_id: str | None = None,
) -> None:
    """Hide an asset now; keep its bytes until ``purge_after`` (retention), log and announce."""
    if asset["deleted_at"] is not None:
        return
    asset_id = str(asset["id"])
    now = datetime.now(UTC)
    until = purge_after(now, limits)
    repo.soft_delete(db, asset_id, now, until)
    repo.add_event(
        db, asset_id, premis_event("deletion", agent, stage="soft", purge_after=until.isoformat())
    )
    db.publish(
        make_event(
            "media.asset_deleted",
            {
                "asset_id": asset_id,
                "record_id": str(asset["record_id"]),
                "version": asset["version"],
                "purge_after": until.isoformat(),
            },
            producer="media",
            actor=agent,
            correlation_id=correlation_id,
        )
    )


def run_fixity(
    db: DbSession, store: ObjectStore, limit: int = 1000, agent: str = "media:fixity"
) -> list[FixityResult]:
    """Check the masters least recently checked first (every version of each)."""
    results = []
    for row in repo.fixity_due(db, limit):
        results.append(check_one(db, store, row, agent))
        db.commit()
    return results


def purge(db: DbSession, store: ObjectStore, now: datetime | None = None) -> list[str]:
    """Remove soft-deleted assets past their retention: masters, derivatives, rows."""
    now = now or datetime.now(UTC)
    gone = []
    for row in repo.purgeable(db, now):
        asset_id = str(row["id"])
        for bucket in (MASTERS_BUCKET, DERIVATIVES_BUCKET):
            for key in store.list_keys(bucket, f"assets/{asset_id}/"):
                store.delete(bucket, key)
        repo.add_event(db, asset_id, premis_event("deletion", "media:purge", stage="purged"))
        repo.remove_asset(db, asset_id)
        db.commit()
        gone.append(asset_id)
    return gone


class BagRefused(MediaError):
    """A bag cannot be written: no such asset, or a master no longer matches its SHA-256."""


def export_bag(db: DbSession, store: ObjectStore, asset_id: str, target: Path) -> Path:
    """Write the asset as a BagIt 1.0 bag: every master version, events, manifest-sha256.

    A master whose bytes no longer hash to the SHA-256 recorded at ingest is not bagged (a bag
    would vouch for damaged bytes): the partial bag is removed and ``BagRefused`` raised.
    """
    try:
        asset = repo.get_asset(db, str(uuid.UUID(asset_id)))
    except ValueError:
        asset = None
    if asset is None:
        raise BagRefused(f"no asset {asset_id}")
    bag = target / f"asset-{asset_id}"
    data = bag / "data"
    data.mkdir(parents=True, exist_ok=False)
    try:
        return _write_bag(db, store, asset, bag, data)
    except BaseException:
        shutil.rmtree(bag, ignore_errors=True)
        raise


def _write_bag(
    db: DbSession, store: ObjectStore, asset: dict[str, Any], bag: Path, data: Path
) -> Path:
    asset_id = str(asset["id"])
    manifest: list[tuple[str, str]] = []
    total = 0
    for version in repo.versions(db, asset_id):
        name = f"v{version['version']}/original.{version['master_key'].rsplit('.', 1)[-1]}"
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for chunk in store.iter_chunks(MASTERS_BUCKET, version["master_key"]):
                digest.update(chunk)
                out.write(chunk)
                total += len(chunk)
        if digest.hexdigest() != version["sha256"]:
            raise BagRefused(
                f"version {version['version']} of asset {asset_id} no longer matches its SHA-256"
                f" (expected {version['sha256']}, read {digest.hexdigest()}): run"
                " `disan fixity run` and restore the master before bagging it"
            )
        manifest.append((digest.hexdigest(), f"data/{name}"))
    events = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in e.items()}
        for e in repo.events(db, asset_id)
    ]
    description = {
        "asset_id": asset_id,
        "record_id": str(asset["record_id"]),
        "format": asset["format"],
        "sha256": asset["sha256"],
        "metadata": asset["metadata"],
        "technical": asset["technical"],
        "preservation_events": events,
    }
    meta = json.dumps(description, ensure_ascii=False, indent=2, default=str).encode()
    (data / "asset.json").write_bytes(meta)
    manifest.append((hashlib.sha256(meta).hexdigest(), "data/asset.json"))
    total += len(meta)
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag / "manifest-sha256.txt").write_text("".join(f"{d}  {p}\n" for d, p in manifest))
    (bag / "bag-info.txt").write_text(
        f"Source-Organization: Disan\nExternal-Identifier: {asset_id}\n"
        f"Bagging-Date: {datetime.now(UTC).date().isoformat()}\n"
        f"Payload-Oxum: {total}.{len(manifest)}\n"
    )
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"]
    (bag / "tagmanifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256((bag / t).read_bytes()).hexdigest()}  {t}\n" for t in tags)
    )
    return bag
