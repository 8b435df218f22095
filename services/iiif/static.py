"""Public manifests as files for the nginx front (ADR 0061): the fast path of cached GETs.

When ``extra.iiif.static_dir`` (``DISAN_IIIF_STATIC_DIR``) is set, the service mirrors every
*public* stored manifest to ``{static_dir}/iiif/presentation/3/records/{id}/manifest``, the
exact bytes the gateway serves. The front serves a file when it exists and falls back to the
gateway otherwise, so a restricted, withdrawn or not yet mirrored manifest is always decided by
the gateway. Every change of a manifest's bytes or visibility queues its record
(``mirror_queue``) in the changing transaction; the mirror takes queued records after they are
committed and writes the file (atomically, by rename) when the manifest is public, removes it
in every other case.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider

from services.iiif import domain
from services.iiif import repository as repo
from shared.db import DbSession

log = logging.getLogger(__name__)

RECORDS = Path("iiif") / "presentation" / "3" / "records"


def static_dir_of(settings: Any) -> Path | None:
    value = ((settings.extra or {}).get("iiif") or {}).get("static_dir") or ""
    return Path(str(value)) if str(value).strip() else None


def manifest_file(root: Path, record_id: str) -> Path:
    if not domain.is_uuid(record_id):
        raise ValueError(f"not a record id: {record_id!r}")
    return root / RECORDS / record_id.lower() / "manifest"


def write_atomically(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body.encode("utf-8"))
        os.chmod(tmp, 0o644)  # the front's workers run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def mirror(db: DbSession, root: Path, record_id: str) -> bool:
    """Make the file match the stored manifest: written if public, removed otherwise."""
    path = manifest_file(root, record_id)
    row = repo.get_manifest(db, record_id)
    if row is not None and row["public"] and not row["stale"]:
        write_atomically(path, row["body"])
        return True
    path.unlink(missing_ok=True)
    return False


class StaticMirror:
    """The mirror of one process: where it writes; starts with a full sync."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.synced = False

    def full_sync(self, db: DbSession) -> int:
        """Every public manifest written, every other file removed; returns files written."""
        repo.clear_mirror_queue(db)
        keep = set()
        for row in repo.public_manifests(db):
            record_id = str(row["record_id"])
            write_atomically(manifest_file(self.root, record_id), row["body"])
            keep.add(record_id)
        base = self.root / RECORDS
        if base.is_dir():
            for folder in base.iterdir():
                if folder.name not in keep:
                    (folder / "manifest").unlink(missing_ok=True)
        self.synced = True
        return len(keep)

    def sync(self, db: DbSession, limit: int = 1000) -> int:
        """Mirror the records queued by committed changes; returns how many."""
        if not self.synced:
            return self.full_sync(db)
        ids = repo.take_mirror_queue(db, limit)
        for record_id in ids:
            mirror(db, self.root, record_id)
        return len(ids)


class StaticManifests(DependencyProvider):  # type: ignore[misc]
    """Gives workers the process's ``StaticMirror``, or None when no directory is set."""

    def setup(self) -> None:
        root = static_dir_of(self.container.config["DISAN_SETTINGS"])
        self.mirror = StaticMirror(root) if root is not None else None
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            log.info("public manifests mirrored to %s", root)

    def get_dependency(self, worker_ctx: Any) -> StaticMirror | None:
        return self.mirror
