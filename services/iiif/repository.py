"""SQL of the iiif service: its projections, the stored manifests, the activity stream.

Every function takes the caller's ``DbSession`` and runs in its transaction. Projections keep
the newest state: catalogue rows by record version, media and policy rows by ``occurred_at``,
so late or redelivered events never roll anything back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.db import DbSession

Row = dict[str, Any]


def _rows(result: Any) -> list[Row]:
    return [dict(r._mapping) for r in result]


def _row(result: Any) -> Row | None:
    row = result.first()
    return dict(row._mapping) if row is not None else None


# records ---------------------------------------------------------------------------------------


def apply_record(
    db: DbSession,
    record_id: str,
    state: str,
    version: int,
    heritage_class: str,
    doc: dict[str, Any] | None,
    deleted: bool,
    at: datetime,
) -> bool:
    """Keep the newest version of a record; False when a newer one is already kept."""
    row = db.execute(
        "INSERT INTO records (record_id, state, version, heritage_class, doc, deleted, updated_at) "
        "VALUES (CAST(:id AS uuid), :state, :version, :cls, CAST(:doc AS jsonb), :deleted, :at) "
        "ON CONFLICT (record_id) DO UPDATE SET state = EXCLUDED.state, "
        "version = EXCLUDED.version, heritage_class = EXCLUDED.heritage_class, "
        "doc = COALESCE(EXCLUDED.doc, records.doc), deleted = EXCLUDED.deleted, "
        "updated_at = EXCLUDED.updated_at "
        "WHERE records.version < EXCLUDED.version OR (records.version = EXCLUDED.version AND "
        "(EXCLUDED.deleted OR NOT records.deleted)) "
        "RETURNING 1",
        {
            "id": record_id,
            "state": state,
            "version": version,
            "cls": heritage_class,
            "doc": json.dumps(doc, ensure_ascii=False) if doc is not None else None,
            "deleted": deleted,
            "at": at,
        },
    ).first()
    return row is not None


def get_record(db: DbSession, record_id: str) -> Row | None:
    return _row(
        db.execute("SELECT * FROM records WHERE record_id = CAST(:id AS uuid)", {"id": record_id})
    )


def published_ids(db: DbSession) -> list[str]:
    rows = db.execute(
        "SELECT record_id FROM records WHERE state = 'published' AND NOT deleted "
        "AND doc IS NOT NULL ORDER BY record_id"
    )
    return [str(r[0]) for r in rows]


# access policies -------------------------------------------------------------------------------


def apply_policy(
    db: DbSession, record_id: str, level: str, embargo_until: datetime | None, at: datetime
) -> bool:
    row = db.execute(
        "INSERT INTO policies (record_id, level, embargo_until, updated_at) "
        "VALUES (:id, :level, :until, :at) ON CONFLICT (record_id) DO UPDATE SET "
        "level = EXCLUDED.level, embargo_until = EXCLUDED.embargo_until, "
        "updated_at = EXCLUDED.updated_at, embargo_released = false "
        "WHERE policies.updated_at <= EXCLUDED.updated_at "
        "RETURNING 1",
        {"id": record_id, "level": level, "until": embargo_until, "at": at},
    ).first()
    return row is not None


def get_policy(db: DbSession, record_id: str) -> Row | None:
    return _row(db.execute("SELECT * FROM policies WHERE record_id = :id", {"id": record_id}))


def ended_embargoes(db: DbSession, now: datetime, limit: int) -> list[str]:
    """Records and assets whose embargo ended by ``now`` and was not yet applied, locked
    (SKIP LOCKED: each replica takes its own) until the caller's transaction ends."""
    rows = db.execute(
        "SELECT record_id FROM policies WHERE level = 'embargoed' AND NOT embargo_released "
        "AND embargo_until <= :now ORDER BY embargo_until LIMIT :limit FOR UPDATE SKIP LOCKED",
        {"now": now, "limit": limit},
    )
    return [str(r[0]) for r in rows]


def mark_embargo_released(db: DbSession, resource_ids: list[str]) -> None:
    if resource_ids:
        db.execute(
            "UPDATE policies SET embargo_released = true WHERE record_id = ANY(:ids)",
            {"ids": resource_ids},
        )


# assets ----------------------------------------------------------------------------------------

_ASSET_FIELDS = (
    "kind",
    "format",
    "mime_type",
    "position",
    "metadata",
    "status",
    "width",
    "height",
    "duration",
    "pages",
    "version",
)


def apply_asset(db: DbSession, asset_id: str, record_id: str, at: datetime, **fields: Any) -> None:
    """Insert or update an asset with the fields given; older events change nothing."""
    unknown = set(fields) - set(_ASSET_FIELDS)
    if unknown:
        raise ValueError(f"unknown asset fields {sorted(unknown)}")
    values = {k: json.dumps(v) if k in ("metadata", "pages") else v for k, v in fields.items()}
    columns = ", ".join(values)
    casts = ", ".join(
        f"CAST(:{k} AS jsonb)" if k in ("metadata", "pages") else f":{k}" for k in values
    )
    updates = ", ".join(f"{k} = EXCLUDED.{k}" for k in values)
    db.execute(
        f"INSERT INTO assets (asset_id, record_id, created_at, updated_at"  # noqa: S608 - names above
        f"{', ' + columns if columns else ''}) "
        f"VALUES (CAST(:asset_id AS uuid), CAST(:record_id AS uuid), :at, :at"
        f"{', ' + casts if casts else ''}) "
        f"ON CONFLICT (asset_id) DO UPDATE SET updated_at = GREATEST(assets.updated_at, :at)"
        f"{', ' + updates if updates else ''} WHERE assets.updated_at <= :at",
        {"asset_id": asset_id, "record_id": record_id, "at": at} | values,
    )


def set_positions(db: DbSession, positions: dict[str, int]) -> None:
    """The order of assets as the media service has it (``media.assets_reordered``)."""
    if positions:
        db.execute(
            "UPDATE assets SET position = CAST(p.value AS integer) "
            "FROM jsonb_each_text(CAST(:p AS jsonb)) AS p "
            "WHERE assets.asset_id = CAST(p.key AS uuid)",
            {"p": json.dumps(positions)},
        )


def assets_of(db: DbSession, record_id: str) -> list[Row]:
    return _rows(
        db.execute(
            "SELECT * FROM assets WHERE record_id = CAST(:id AS uuid) "
            "ORDER BY position, created_at, asset_id",
            {"id": record_id},
        )
    )


def record_of_asset(db: DbSession, asset_id: str) -> str | None:
    row = db.execute(
        "SELECT record_id FROM assets WHERE asset_id = CAST(:id AS uuid)", {"id": asset_id}
    ).first()
    return str(row[0]) if row is not None else None


# canvases --------------------------------------------------------------------------------------


def replace_canvases(db: DbSession, record_id: str, canvases: Iterable[Row]) -> None:
    replace_canvases_many(db, {record_id: list(canvases)})


def get_canvas(db: DbSession, canvas_id: str) -> Row | None:
    return _row(db.execute("SELECT * FROM canvases WHERE canvas_id = :id", {"id": canvas_id}))


def canvases_of(db: DbSession, record_id: str) -> list[Row]:
    return _rows(
        db.execute(
            "SELECT * FROM canvases WHERE record_id = CAST(:id AS uuid) ORDER BY position",
            {"id": record_id},
        )
    )


# manifests -------------------------------------------------------------------------------------


def get_manifest(db: DbSession, record_id: str) -> Row | None:
    return _row(
        db.execute("SELECT * FROM manifests WHERE record_id = CAST(:id AS uuid)", {"id": record_id})
    )


def with_manifest(db: DbSession, record_ids: list[str]) -> list[str]:
    """Those of ``record_ids`` (canonical UUID strings) that have a manifest."""
    if not record_ids:
        return []
    rows = db.execute(
        "SELECT record_id FROM manifests WHERE record_id = ANY(CAST(:ids AS uuid[]))",
        {"ids": record_ids},
    )
    return [str(r[0]) for r in rows]


def store_manifest(db: DbSession, **stored: Any) -> None:
    """Insert or replace a record's manifest (fields of ``domain.Built.stored()``)."""
    store_manifests(db, [stored])


def delete_manifest(db: DbSession, record_id: str) -> Row | None:
    return _row(
        db.execute(
            "DELETE FROM manifests WHERE record_id = CAST(:id AS uuid) "
            "RETURNING record_id, collections",
            {"id": record_id},
        )
    )


def lock_manifest(db: DbSession, record_id: str) -> None:
    """Lock a record's manifest row (if it has one) until the transaction ends."""
    db.execute(
        "SELECT 1 FROM manifests WHERE record_id = CAST(:id AS uuid) FOR UPDATE", {"id": record_id}
    )


def mark_stale(db: DbSession, record_id: str) -> bool:
    row = db.execute(
        "UPDATE manifests SET stale = true WHERE record_id = CAST(:id AS uuid) RETURNING 1",
        {"id": record_id},
    ).first()
    return row is not None


def claim_fingerprint(db: DbSession, fingerprint: str) -> bool:
    """Record the builder's fingerprint; True when it differs from the stored one (or none was
    stored), for exactly one of several replicas starting at once (the row is locked)."""
    row = db.execute(
        "INSERT INTO build_state (id, fingerprint) VALUES (1, :f) "
        "ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, changed_at = now() "
        "WHERE build_state.fingerprint <> EXCLUDED.fingerprint RETURNING 1",
        {"f": fingerprint},
    ).first()
    return row is not None


def mark_all_stale(db: DbSession) -> int:
    return db.execute("UPDATE manifests SET stale = true WHERE NOT stale").rowcount or 0


def stale_ids(db: DbSession, limit: int) -> list[str]:
    rows = db.execute(
        "SELECT record_id FROM manifests WHERE stale ORDER BY built_at LIMIT :limit "
        "FOR UPDATE SKIP LOCKED",
        {"limit": limit},
    )
    return [str(r[0]) for r in rows]


# A collection is one document for everyone (public, cached, CORS *): it lists only manifests
# the public may read (``public``: the record's policy is public now, as ``authorize`` decides
# for the anonymous), so a restricted record's title never appears in one (issue 14). Change
# Discovery may still name such a manifest's URL, as the specification allows.


def collection_members(db: DbSession, name: str, limit: int, offset: int) -> list[Row]:
    return _rows(
        db.execute(
            "SELECT record_id, label FROM manifests WHERE :name = ANY(collections) AND public "
            "ORDER BY title_sort, record_id LIMIT :limit OFFSET :offset",
            {"name": name, "limit": limit, "offset": offset},
        )
    )


def collection_size(db: DbSession, name: str) -> int:
    row = db.execute(
        "SELECT count(*) FROM manifests WHERE :name = ANY(collections) AND public",
        {"name": name},
    ).first()
    return int(row[0]) if row is not None else 0


def collection_names(db: DbSession) -> list[str]:
    rows = db.execute("SELECT DISTINCT unnest(collections) AS name FROM manifests ORDER BY 1")
    return [str(r[0]) for r in rows]


def listed_collection_names(db: DbSession) -> list[str]:
    """The collections that list a manifest the public may read: those a collection of the
    tree links to (one with only restricted members is not served to anyone)."""
    rows = db.execute(
        "SELECT DISTINCT unnest(collections) AS name FROM manifests WHERE public ORDER BY 1"
    )
    return [str(r[0]) for r in rows]


# vocabulary labels -----------------------------------------------------------------------------


def labels(db: DbSession) -> dict[tuple[str, str], dict[str, str]]:
    rows = db.execute("SELECT scheme, code, labels FROM labels").mappings()
    return {(str(r["scheme"]), str(r["code"])): dict(r["labels"]) for r in rows}


def known_schemes(db: DbSession) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT DISTINCT scheme FROM labels")}


def put_labels(db: DbSession, scheme: str, terms: list[Row]) -> None:
    if terms:
        db.execute(
            "INSERT INTO labels (scheme, code, labels) SELECT :scheme, t->>'code', t->'labels' "
            "FROM jsonb_array_elements(CAST(:terms AS jsonb)) AS t "
            "ON CONFLICT (scheme, code) DO UPDATE SET labels = EXCLUDED.labels",
            {
                "scheme": scheme,
                "terms": json.dumps(
                    [{"code": t["code"], "labels": t["labels"]} for t in terms],
                    ensure_ascii=False,
                ),
            },
        )


# activities (Change Discovery) -----------------------------------------------------------------


# Key of the advisory lock that orders the stream; the second key is the schema's hash, so two
# iiif schemas in one database (tests, the bench) do not wait on each other.
ACTIVITY_LOCK = 0x1F0060


def lock_activities(db: DbSession) -> None:
    """Take the stream's transaction-scoped lock (ADR 0060): until this transaction ends, no other
    can number an activity, so sequence order is commit order.

    Take it last, right before :func:`add_activities`, and commit soon after: every other
    transaction appending activities waits for it.
    """
    db.execute(
        "SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))", {"key": ACTIVITY_LOCK}
    )


def add_activities(db: DbSession, activities: list[tuple[str, str, str]]) -> None:
    """Append ``(type, object_id, object_type)`` activities, in this order.

    The caller holds :func:`lock_activities`, or a transaction committing later could number
    its activities before this one's and a harvester would miss them.
    """
    if activities:
        db.execute(
            "INSERT INTO activities (type, object_id, object_type) "
            "SELECT a->>0, a->>1, a->>2 FROM jsonb_array_elements(CAST(:acts AS jsonb)) "
            "WITH ORDINALITY AS t(a, i) ORDER BY i",
            {"acts": json.dumps(activities)},
        )


def activity_count(db: DbSession) -> int:
    row = db.execute("SELECT count(*) FROM activities").first()
    return int(row[0]) if row is not None else 0


def activities_page(db: DbSession, limit: int, offset: int) -> list[Row]:
    return _rows(
        db.execute(
            "SELECT seq, type, object_id, object_type, end_time FROM activities "
            "ORDER BY seq LIMIT :limit OFFSET :offset",
            {"limit": limit, "offset": offset},
        )
    )


def collection_states(db: DbSession, prefix: str, names: list[str]) -> dict[str, tuple[bool, bool]]:
    """For each collection name: (has a member, is in the stream — its last activity, under the
    id ``prefix + name``, is not a Delete). One statement, index lookups only (GIN on
    ``collections``, ``activities_object``): it runs under the stream's lock."""
    if not names:
        return {}
    rows = _rows(
        db.execute(
            "SELECT n.name, EXISTS (SELECT 1 FROM manifests m "
            "WHERE m.collections @> ARRAY[n.name]) AS member, "
            "(SELECT a.type FROM activities a WHERE a.object_id = :prefix || n.name "
            "ORDER BY a.seq DESC LIMIT 1) AS last "
            "FROM unnest(CAST(:names AS text[])) AS n(name)",
            {"prefix": prefix, "names": names},
        )
    )
    return {
        str(r["name"]): (bool(r["member"]), r["last"] is not None and r["last"] != "Delete")
        for r in rows
    }


def activities_for(db: DbSession, object_id: str) -> list[Row]:
    return _rows(
        db.execute(
            "SELECT seq, type, object_id, object_type, end_time FROM activities "
            "WHERE object_id = :id ORDER BY seq",
            {"id": object_id},
        )
    )


# batches (full rebuild) ------------------------------------------------------------------------


def records_by_id(db: DbSession, ids: list[str]) -> dict[str, Row]:
    rows = db.execute(
        "SELECT * FROM records WHERE record_id = ANY(CAST(:ids AS uuid[]))", {"ids": ids}
    )
    return {str(r["record_id"]): r for r in _rows(rows)}


def policies_by_id(db: DbSession, ids: list[str]) -> dict[str, Row]:
    rows = db.execute("SELECT * FROM policies WHERE record_id = ANY(:ids)", {"ids": ids})
    return {str(r["record_id"]): r for r in _rows(rows)}


def assets_by_record(db: DbSession, ids: list[str]) -> dict[str, list[Row]]:
    rows = db.execute(
        "SELECT * FROM assets WHERE record_id = ANY(CAST(:ids AS uuid[])) "
        "ORDER BY record_id, position, created_at, asset_id",
        {"ids": ids},
    )
    out: dict[str, list[Row]] = {}
    for r in _rows(rows):
        out.setdefault(str(r["record_id"]), []).append(r)
    return out


def manifests_by_id(db: DbSession, ids: list[str]) -> dict[str, Row]:
    rows = db.execute(
        "SELECT record_id, etag, stale, public, collections, label FROM manifests "
        "WHERE record_id = ANY(CAST(:ids AS uuid[]))",
        {"ids": ids},
    )
    return {str(r["record_id"]): r for r in _rows(rows)}


def store_manifests(db: DbSession, stored: list[Row]) -> None:
    """``store_manifest`` for many records in one statement."""
    if not stored:
        return
    db.execute(
        "INSERT INTO manifests (record_id, body, etag, public, stale, heritage_class, collections, "
        "title_sort, label, built_at) SELECT CAST(m->>'record_id' AS uuid), m->>'body', "
        "m->>'etag', CAST(m->>'public' AS boolean), false, m->>'heritage_class', "
        "ARRAY(SELECT jsonb_array_elements_text(m->'collections')), m->>'title_sort', m->'label', "
        "now() FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS m "
        "ON CONFLICT (record_id) DO UPDATE SET body = EXCLUDED.body, etag = EXCLUDED.etag, "
        "public = EXCLUDED.public, stale = false, heritage_class = EXCLUDED.heritage_class, "
        "collections = EXCLUDED.collections, title_sort = EXCLUDED.title_sort, "
        "label = EXCLUDED.label, built_at = now()",
        {"rows": json.dumps(stored, ensure_ascii=False)},
    )


def replace_canvases_many(db: DbSession, canvases: dict[str, list[Row]]) -> None:
    if not canvases:
        return
    db.execute(
        "DELETE FROM canvases WHERE record_id = ANY(CAST(:ids AS uuid[]))",
        {"ids": list(canvases)},
    )
    rows = [dict(c) | {"record_id": rid} for rid, cs in canvases.items() for c in cs]
    if rows:
        db.execute(
            "INSERT INTO canvases (canvas_id, record_id, asset_id, page, position, width, height, "
            "duration) SELECT c->>'canvas_id', CAST(c->>'record_id' AS uuid), "
            "CAST(c->>'asset_id' AS uuid), CAST(c->>'page' AS integer), "
            "CAST(c->>'position' AS integer), CAST(c->>'width' AS integer), "
            "CAST(c->>'height' AS integer), CAST(c->>'duration' AS double precision) "
            "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS c "
            "ON CONFLICT (canvas_id) DO UPDATE SET record_id = EXCLUDED.record_id, "
            "asset_id = EXCLUDED.asset_id, page = EXCLUDED.page, position = EXCLUDED.position, "
            "width = EXCLUDED.width, height = EXCLUDED.height, duration = EXCLUDED.duration",
            {"rows": json.dumps(rows)},
        )


# the static mirror (services/iiif/static.py) --------------------------------------------------


def public_manifests(db: DbSession) -> list[Row]:
    return _rows(db.execute("SELECT record_id, body FROM manifests WHERE public AND NOT stale"))


def queue_mirror(db: DbSession, record_ids: list[str]) -> None:
    if record_ids:
        db.execute(
            "INSERT INTO mirror_queue (record_id) SELECT unnest(CAST(:ids AS uuid[])) "
            "ON CONFLICT DO NOTHING",
            {"ids": record_ids},
        )


def take_mirror_queue(db: DbSession, limit: int) -> list[str]:
    rows = db.execute(
        "DELETE FROM mirror_queue WHERE record_id IN (SELECT record_id FROM mirror_queue "
        "ORDER BY queued_at LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING record_id",
        {"limit": limit},
    )
    return [str(r[0]) for r in rows]


def clear_mirror_queue(db: DbSession) -> None:
    db.execute("DELETE FROM mirror_queue")
