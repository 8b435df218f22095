"""SQL of the media service (its own schema: assets, asset_versions, preservation_events)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.db import DbSession

_COLUMNS = (
    "id, record_id, status, kind, format, mime_type, version, master_key, size, sha256, "
    "filename, position, metadata, technical, width, height, levels, failure_reason, "
    "fixity_status, fixity_checked_at, deleted_at, purge_after, created_by, created_at, updated_at"
)


def insert_asset(db: DbSession, row: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO assets (id, record_id, status, kind, format, mime_type, version, master_key,"
        " size, sha256, filename, position, metadata, technical, width, height, created_by) "
        "VALUES (:id, :record_id, 'processing', :kind, :format, :mime_type, 1, :master_key, :size,"
        " :sha256, :filename, :position, CAST(:metadata AS jsonb), CAST(:technical AS jsonb),"
        " :width, :height, :created_by)",
        row | {"metadata": json.dumps(row["metadata"]), "technical": json.dumps(row["technical"])},
    )
    insert_version(db, row["id"], 1, row)


def insert_version(db: DbSession, asset_id: str, version: int, row: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO asset_versions (asset_id, version, master_key, format, size, sha256, "
        "filename, created_by) VALUES (:a, :v, :master_key, :format, :size, :sha256, :filename,"
        " :created_by)",
        {"a": asset_id, "v": version}
        | {k: row[k] for k in ("master_key", "format", "size", "sha256", "filename", "created_by")},
    )


def replace_master(db: DbSession, asset_id: str, version: int, row: dict[str, Any]) -> None:
    db.execute(
        "UPDATE assets SET version = :v, status = 'processing', kind = :kind, format = :format,"
        " mime_type = :mime_type, master_key = :master_key, size = :size, sha256 = :sha256,"
        " filename = :filename, technical = CAST(:technical AS jsonb), width = :width,"
        " height = :height, levels = NULL, failure_reason = NULL, fixity_status = 'unchecked',"
        " updated_at = now() WHERE id = :id",
        {"id": asset_id, "v": version, "technical": json.dumps(row["technical"])}
        | {
            k: row[k]
            for k in (
                "kind",
                "format",
                "mime_type",
                "master_key",
                "size",
                "sha256",
                "filename",
                "width",
                "height",
            )
        },
    )
    insert_version(db, asset_id, version, row)


def get_asset(db: DbSession, asset_id: str, lock: bool = False) -> dict[str, Any] | None:
    row = (
        db.execute(
            f"SELECT {_COLUMNS} FROM assets WHERE id = :id" + (" FOR UPDATE" if lock else ""),
            {"id": asset_id},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def assets_of_record(db: DbSession, record_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM assets WHERE record_id = :r AND deleted_at IS NULL "
        "ORDER BY position, created_at",
        {"r": record_id},
    ).mappings()
    return [dict(r) for r in rows]


def lock_assets_of_record(db: DbSession, record_id: str) -> list[dict[str, Any]]:
    """The record's assets (not deleted), locked until the transaction ends."""
    rows = db.execute(
        "SELECT id, position FROM assets WHERE record_id = :r AND deleted_at IS NULL "
        "ORDER BY position, created_at FOR UPDATE",
        {"r": record_id},
    ).mappings()
    return [dict(r) for r in rows]


def next_position(db: DbSession, record_id: str) -> int:
    """Where a new upload goes: after the record's assets (uploads keep their order)."""
    row = db.execute(
        "SELECT COALESCE(max(position) + 1, 0) FROM assets WHERE record_id = :r "
        "AND deleted_at IS NULL",
        {"r": record_id},
    ).first()
    return int(row[0]) if row is not None else 0


def set_positions(db: DbSession, positions: dict[str, int]) -> None:
    db.execute(
        "UPDATE assets SET position = p.position, updated_at = now() "
        "FROM (SELECT key::uuid AS id, value::int AS position "
        "FROM jsonb_each_text(CAST(:p AS jsonb))) AS p WHERE assets.id = p.id",
        {"p": json.dumps(positions)},
    )


def versions(db: DbSession, asset_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT version, master_key, format, size, sha256, filename, created_by, created_at "
        "FROM asset_versions WHERE asset_id = :a ORDER BY version",
        {"a": asset_id},
    ).mappings()
    return [dict(r) for r in rows]


def mark_ready(db: DbSession, asset_id: str, technical: dict[str, Any]) -> None:
    db.execute(
        "UPDATE assets SET status = 'ready', width = COALESCE(:w, width),"
        " height = COALESCE(:h, height), levels = :levels,"
        " technical = technical || CAST(:t AS jsonb), failure_reason = NULL, updated_at = now()"
        " WHERE id = :id",
        {
            "id": asset_id,
            "w": technical.get("width"),
            "h": technical.get("height"),
            "levels": technical.get("levels"),
            "t": json.dumps(technical),
        },
    )


def mark_failed(db: DbSession, asset_id: str, reason: str) -> None:
    db.execute(
        "UPDATE assets SET status = 'failed', failure_reason = :r, updated_at = now() "
        "WHERE id = :id",
        {"id": asset_id, "r": reason[:2000]},
    )


def set_fixity(db: DbSession, asset_id: str, ok: bool) -> None:
    db.execute(
        "UPDATE assets SET fixity_status = :s, fixity_checked_at = now() WHERE id = :id",
        {"id": asset_id, "s": "ok" if ok else "failed"},
    )


def fixity_due(db: DbSession, limit: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT v.asset_id, v.version, v.master_key, v.sha256, a.record_id FROM asset_versions v"
        " JOIN assets a ON a.id = v.asset_id ORDER BY a.fixity_checked_at NULLS FIRST,"
        " v.asset_id, v.version LIMIT :n",
        {"n": limit},
    ).mappings()
    return [dict(r) for r in rows]


def soft_delete(db: DbSession, asset_id: str, at: datetime, purge: datetime) -> None:
    db.execute(
        "UPDATE assets SET deleted_at = :at, purge_after = :p, updated_at = now() WHERE id = :id",
        {"id": asset_id, "at": at, "p": purge},
    )


def purgeable(db: DbSession, now: datetime) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, record_id FROM assets WHERE deleted_at IS NOT NULL AND purge_after <= :now",
        {"now": now},
    ).mappings()
    return [dict(r) for r in rows]


def remove_asset(db: DbSession, asset_id: str) -> None:
    db.execute("DELETE FROM assets WHERE id = :id", {"id": asset_id})


def add_event(db: DbSession, asset_id: str, event: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO preservation_events (asset_id, event_type, occurred_at, agent, outcome,"
        " detail) VALUES (:a, :event_type, :occurred_at, :agent, :outcome,"
        " CAST(:detail AS jsonb))",
        {"a": asset_id} | event | {"detail": json.dumps(event["detail"], default=str)},
    )


def events(db: DbSession, asset_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, event_type, occurred_at, agent, outcome, detail FROM preservation_events "
        "WHERE asset_id = :a ORDER BY id",
        {"a": asset_id},
    ).mappings()
    return [dict(r) for r in rows]


def known_master_keys(db: DbSession) -> set[str]:
    """Every master key a registered asset version points at (soft-deleted ones included)."""
    rows = db.execute("SELECT master_key FROM asset_versions UNION SELECT master_key FROM assets")
    return {str(r[0]) for r in rows}


def pending_uploads_seen(
    db: DbSession, pending: dict[str, str], now: datetime, remember: bool = True
) -> dict[str, datetime]:
    """When the sweep first saw each pending multipart upload (``upload_id -> key``): ``now``
    for one not seen before. With ``remember``, new ones are kept and uploads no longer pending
    forgotten."""
    rows = db.execute(
        "SELECT upload_id, first_seen FROM pending_uploads WHERE upload_id = ANY(:ids)",
        {"ids": list(pending)},
    )
    seen = {str(m["upload_id"]): m["first_seen"] for m in rows.mappings()}
    if remember:
        db.execute(
            "DELETE FROM pending_uploads WHERE NOT (upload_id = ANY(:ids))", {"ids": list(pending)}
        )
        for upload_id, key in pending.items():
            if upload_id not in seen:
                db.execute(
                    "INSERT INTO pending_uploads (upload_id, key, first_seen) VALUES (:u, :k, :t) "
                    "ON CONFLICT (upload_id) DO NOTHING",
                    {"u": upload_id, "k": key, "t": now},
                )
    return {upload_id: seen.get(upload_id, now) for upload_id in pending}


def forget_pending_upload(db: DbSession, upload_id: str) -> None:
    db.execute("DELETE FROM pending_uploads WHERE upload_id = :u", {"u": upload_id})


def existing_asset_ids(db: DbSession, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = db.execute(
        "SELECT id::text FROM assets WHERE id = ANY(CAST(:ids AS uuid[]))", {"ids": ids}
    )
    return {str(r[0]) for r in rows}
