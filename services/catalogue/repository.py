"""SQL of the catalogue's own schema: records, versions, vocabularies, the policy projection."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import psycopg

from services.catalogue import domain
from shared.db import DbSession

Row = dict[str, Any]

_RECORD_COLUMNS = (
    "id::text AS id, inventory_number, heritage_class, state, version, data, has_images, "
    "access_level, embargo_until, created_at, created_by, updated_at, updated_by"
)


def _row(result: Any) -> Row | None:
    row = result.mappings().first()
    return dict(row) if row is not None else None


def get_record(db: DbSession, record_id: str, lock: bool = False) -> Row | None:
    sql = f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = CAST(:id AS uuid)"
    return _row(db.execute(sql + (" FOR UPDATE" if lock else ""), {"id": record_id}))


def referencing(db: DbSession, record_id: str, published_only: bool) -> list[Row]:
    """Records whose relations point at ``record_id``: id, title, class and relation type."""
    rows = db.execute(
        "SELECT r.id::text AS id, r.heritage_class, r.data -> 'title' AS title, "
        "rel ->> 'type' AS type FROM records r, "
        "jsonb_array_elements(r.data -> 'relations') rel "
        "WHERE r.data -> 'relations' @> CAST(:probe AS jsonb) AND rel ->> 'target' = :id "
        + ("AND r.state = 'published' AND r.access_level = 'public' " if published_only else "")
        + "ORDER BY r.title_sort",
        {"probe": json.dumps([{"target": record_id}]), "id": record_id},
    ).mappings()
    return [dict(r) for r in rows]


def existing_ids(db: DbSession, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = db.execute(
        "SELECT id::text FROM records WHERE id = ANY(CAST(:ids AS uuid[]))", {"ids": ids}
    )
    return {r[0] for r in rows}


def existing_inventory_numbers(db: DbSession, numbers: list[str]) -> dict[str, str]:
    """Lower-cased inventory number -> record id, for those already taken."""
    if not numbers:
        return {}
    rows = db.execute(
        "SELECT lower(inventory_number) AS inv, id::text AS id FROM records "
        "WHERE lower(inventory_number) = ANY(:n)",
        {"n": [n.lower() for n in numbers]},
    )
    return {str(r["inv"]): str(r["id"]) for r in rows.mappings()}


def _params(record_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": record_id, "data": json.dumps(doc, ensure_ascii=False)} | domain.columns(doc)


def insert_record(
    db: DbSession, record_id: str, doc: dict[str, Any], state: str, actor: str
) -> None:
    db.execute(
        "INSERT INTO records (id, inventory_number, heritage_class, state, version, data, "
        "title_sort, rank, district, commune, unesco, lat, lon, search_text, access_level, "
        "embargo_until, created_by, updated_by) "
        "SELECT CAST(:id AS uuid), :inventory_number, :heritage_class, :state, 1, "
        "CAST(:data AS jsonb), disan_fold(:title_sort), :rank, :district, :commune, :unesco, "
        ":lat, :lon, "
        ":search_text, "
        "COALESCE(p.level, 'public'), p.embargo_until, :actor, :actor "
        "FROM (SELECT 1) one LEFT JOIN record_policies p ON p.record_id = :id",
        _params(record_id, doc) | {"state": state, "actor": actor},
    )


_COPY_RECORDS = (
    "COPY records (id, inventory_number, heritage_class, state, version, data, title_sort, rank, "
    "district, commune, unesco, lat, lon, search_text, access_level, embargo_until, created_by, "
    "updated_by) FROM STDIN"
)


def insert_records(
    db: DbSession,
    items: list[tuple[str, dict[str, Any]]],
    state: str,
    actor: str,
    actor_name: str | None = None,
) -> None:
    """Many new records at once (the importer), each with its first version.

    The rows go in with ``COPY`` (no JSON wrapper for PostgreSQL to parse and take apart); the
    document is serialised once, and the versions copy the stored ``jsonb`` without parsing it
    again. What needs PostgreSQL's ``unaccent`` is still computed there: the sort title in one
    query per batch, the search vector by its generated column.
    """
    if not items:
        return
    ids = [rid for rid, _ in items]
    cols = [domain.columns(doc) for _, doc in items]
    folded = db.execute(
        "SELECT disan_fold(t) FROM unnest(CAST(:t AS text[])) WITH ORDINALITY AS u(t, i) "
        "ORDER BY i",
        {"t": [c["title_sort"] for c in cols]},
    ).scalars()
    # access.policy_changed may have arrived before the record (a projection keyed by id)
    policies = {
        str(r["record_id"]): (r["level"], r["embargo_until"])
        for r in db.execute(
            "SELECT record_id, level, embargo_until FROM record_policies "
            "WHERE record_id = ANY(:ids)",
            {"ids": ids},
        ).mappings()
    }
    public = ("public", None)
    raw = db.connection.connection.driver_connection  # same connection, same transaction
    assert isinstance(raw, psycopg.Connection)
    with raw.cursor() as cursor, cursor.copy(_COPY_RECORDS) as copy:
        for (rid, doc), c, title_sort in zip(items, cols, folded, strict=True):
            level, embargo = policies.get(rid, public)
            copy.write_row(
                (
                    rid,
                    c["inventory_number"],
                    c["heritage_class"],
                    state,
                    1,
                    json.dumps(doc, ensure_ascii=False),
                    title_sort,
                    c["rank"],
                    c["district"],
                    c["commune"],
                    c["unesco"],
                    c["lat"],
                    c["lon"],
                    c["search_text"],
                    level,
                    embargo,
                    actor,
                    actor,
                )
            )
    db.execute(
        "INSERT INTO record_versions (record_id, version, action, state, inventory_number, "
        "data, comment, changed_by, changed_by_name) SELECT id, 1, 'created', state, "
        "inventory_number, data, 'imported', :actor, :name FROM records "
        "WHERE id = ANY(CAST(:ids AS uuid[]))",
        {"ids": ids, "actor": actor, "name": actor_name},
    )


def update_record(
    db: DbSession, record_id: str, expected_version: int, doc: dict[str, Any], actor: str
) -> int | None:
    """Replace the document if the version is still ``expected_version``; the new version."""
    row = db.execute(
        "UPDATE records SET data = CAST(:data AS jsonb), inventory_number = :inventory_number, "
        "heritage_class = :heritage_class, title_sort = disan_fold(:title_sort), rank = :rank, "
        "district = :district, commune = :commune, unesco = :unesco, lat = :lat, lon = :lon, "
        "search_text = :search_text, version = version + 1, updated_at = now(), "
        "updated_by = :actor WHERE id = CAST(:id AS uuid) AND version = :expected "
        "RETURNING version",
        _params(record_id, doc) | {"actor": actor, "expected": expected_version},
    ).first()
    return int(row[0]) if row else None


def set_state(
    db: DbSession, record_id: str, expected_version: int, state: str, actor: str
) -> int | None:
    row = db.execute(
        "UPDATE records SET state = :state, version = version + 1, updated_at = now(), "
        "updated_by = :actor WHERE id = CAST(:id AS uuid) AND version = :expected "
        "RETURNING version",
        {"id": record_id, "state": state, "actor": actor, "expected": expected_version},
    ).first()
    return int(row[0]) if row else None


def delete_record(db: DbSession, record_id: str, expected_version: int) -> bool:
    row = db.execute(
        "DELETE FROM records WHERE id = CAST(:id AS uuid) AND version = :expected RETURNING 1",
        {"id": record_id, "expected": expected_version},
    ).first()
    return row is not None


def insert_version(
    db: DbSession,
    record_id: str,
    version: int,
    action: str,
    state: str,
    doc: dict[str, Any],
    comment: str,
    actor: str,
    actor_name: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO record_versions (record_id, version, action, state, inventory_number, data, "
        "comment, changed_by, changed_by_name) VALUES (CAST(:id AS uuid), :version, :action, "
        ":state, :inv, CAST(:data AS jsonb), :comment, :actor, :actor_name)",
        {
            "id": record_id,
            "version": version,
            "action": action,
            "state": state,
            "inv": doc["inventory_number"],
            "data": json.dumps(doc, ensure_ascii=False),
            "comment": comment,
            "actor": actor,
            "actor_name": actor_name,
        },
    )


def list_versions(db: DbSession, record_id: str) -> list[Row]:
    rows = db.execute(
        "SELECT version, action, state, comment, changed_by, "
        "COALESCE(changed_by_name, changed_by) AS changed_by_name, changed_at FROM record_versions "
        "WHERE record_id = CAST(:id AS uuid) ORDER BY version DESC",
        {"id": record_id},
    ).mappings()
    return [dict(r) for r in rows]


def get_version(db: DbSession, record_id: str, version: int) -> Row | None:
    return _row(
        db.execute(
            "SELECT version, action, state, comment, changed_by, "
            "COALESCE(changed_by_name, changed_by) AS changed_by_name, changed_at, data "
            "FROM record_versions WHERE record_id = CAST(:id AS uuid) AND version = :v",
            {"id": record_id, "v": version},
        )
    )


# vocabularies ---------------------------------------------------------------------------------


def vocabulary_codes(db: DbSession, schemes: set[str]) -> dict[str, set[str]]:
    rows = db.execute(
        "SELECT scheme, code FROM vocabulary_terms WHERE scheme = ANY(:s)", {"s": sorted(schemes)}
    )
    known: dict[str, set[str]] = {}
    for row in rows.mappings():
        known.setdefault(str(row["scheme"]), set()).add(str(row["code"]))
    return known


def vocabulary_labels(db: DbSession, schemes: set[str]) -> dict[str, dict[str, dict[str, str]]]:
    """scheme -> code -> vi/en labels (communes are resolved by name and stored with them)."""
    rows = db.execute(
        "SELECT scheme, code, labels FROM vocabulary_terms WHERE scheme = ANY(:s)",
        {"s": sorted(schemes)},
    )
    terms: dict[str, dict[str, dict[str, str]]] = {}
    for row in rows.mappings():
        terms.setdefault(str(row["scheme"]), {})[str(row["code"])] = dict(row["labels"])
    return terms


def vocabulary_broader(db: DbSession, schemes: set[str]) -> dict[str, dict[str, str | None]]:
    """scheme -> code -> broader term (a commune's district or province)."""
    rows = db.execute(
        "SELECT scheme, code, broader FROM vocabulary_terms WHERE scheme = ANY(:s)",
        {"s": sorted(schemes)},
    )
    parents: dict[str, dict[str, str | None]] = {}
    for row in rows.mappings():
        parents.setdefault(str(row["scheme"]), {})[str(row["code"])] = row["broader"]
    return parents


def vocabulary_successors(db: DbSession) -> dict[str, str]:
    """pre-2025 commune -> the current commune that took it in whole (ADR 0046)."""
    rows = db.execute(
        "SELECT code, replaced_by FROM vocabulary_terms "
        "WHERE scheme = 'commune_pre2025' AND replaced_by IS NOT NULL"
    ).mappings()
    return {str(r["code"]): str(r["replaced_by"]) for r in rows}


def list_schemes(db: DbSession) -> list[Row]:
    rows = db.execute(
        "SELECT scheme, count(*) AS terms FROM vocabulary_terms GROUP BY scheme ORDER BY scheme"
    ).mappings()
    return [dict(r) for r in rows]


def list_terms(db: DbSession, scheme: str) -> list[Row]:
    rows = db.execute(
        "SELECT code, labels, broader, note, added_by, replaced_by FROM vocabulary_terms "
        "WHERE scheme = :s ORDER BY code",
        {"s": scheme},
    ).mappings()
    return [dict(r) for r in rows]


def insert_term(
    db: DbSession,
    scheme: str,
    code: str,
    labels: dict[str, str],
    broader: str | None,
    note: dict[str, str] | None,
    actor: str,
) -> bool:
    row = db.execute(
        "INSERT INTO vocabulary_terms (scheme, code, labels, broader, note, added_by) "
        "VALUES (:s, :c, CAST(:l AS jsonb), :b, CAST(:n AS jsonb), :a) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        {
            "s": scheme,
            "c": code,
            "l": json.dumps(labels, ensure_ascii=False),
            "b": broader,
            "n": json.dumps(note, ensure_ascii=False) if note else None,
            "a": actor,
        },
    ).first()
    return row is not None


def insert_terms(db: DbSession, scheme: str, terms: list[dict[str, Any]], actor: str) -> int:
    """Many terms of one scheme in one statement. Existing terms are left as they are, except
    that a term of the seed file without ``replaced_by`` or note gets the built one."""
    if not terms:
        return 0
    rows = db.execute(
        "INSERT INTO vocabulary_terms (scheme, code, labels, broader, note, added_by, "
        "replaced_by) SELECT :s, t.code, t.labels, t.broader, t.note, :a, t.replaced_by "
        "FROM jsonb_to_recordset(CAST(:terms AS jsonb)) AS t(code text, labels jsonb, "
        "broader text, note jsonb, replaced_by text) ON CONFLICT (scheme, code) DO UPDATE "
        "SET replaced_by = COALESCE(vocabulary_terms.replaced_by, EXCLUDED.replaced_by), "
        "note = COALESCE(vocabulary_terms.note, EXCLUDED.note) "
        "WHERE vocabulary_terms.added_by = 'seed' AND ((vocabulary_terms.replaced_by IS NULL "
        "AND EXCLUDED.replaced_by IS NOT NULL) OR (vocabulary_terms.note IS NULL "
        "AND EXCLUDED.note IS NOT NULL)) RETURNING 1",
        {"s": scheme, "a": actor, "terms": json.dumps(terms, ensure_ascii=False)},
    ).all()
    return len(rows)


# access policy projection ---------------------------------------------------------------------


def apply_policy(
    db: DbSession, record_id: str, level: str, embargo_until: datetime | None, at: datetime
) -> None:
    """Keep the latest policy of a record (older events arriving late change nothing)."""
    db.execute(
        "INSERT INTO record_policies (record_id, level, embargo_until, updated_at) "
        "VALUES (:id, :level, :until, :at) ON CONFLICT (record_id) DO UPDATE SET "
        "level = EXCLUDED.level, embargo_until = EXCLUDED.embargo_until, "
        "updated_at = EXCLUDED.updated_at WHERE record_policies.updated_at <= EXCLUDED.updated_at",
        {"id": record_id, "level": level, "until": embargo_until, "at": at},
    )
    if is_uuid(record_id):
        db.execute(
            "UPDATE records r SET access_level = p.level, embargo_until = p.embargo_until "
            "FROM record_policies p WHERE p.record_id = :id AND r.id = CAST(:id AS uuid)",
            {"id": record_id},
        )


def apply_asset(
    db: DbSession, asset_id: str, record_id: str, kind: str | None, deleted: bool, at: datetime
) -> None:
    """Keep the latest state of an asset, then whether its record has images."""
    db.execute(
        "INSERT INTO record_assets (asset_id, record_id, kind, deleted, updated_at) "
        "VALUES (CAST(:a AS uuid), CAST(:r AS uuid), COALESCE(:kind, 'unknown'), :deleted, :at) "
        "ON CONFLICT (asset_id) DO UPDATE SET deleted = EXCLUDED.deleted, "
        "kind = CASE WHEN :kind IS NULL THEN record_assets.kind ELSE EXCLUDED.kind END, "
        "updated_at = EXCLUDED.updated_at WHERE record_assets.updated_at <= EXCLUDED.updated_at",
        {"a": asset_id, "r": record_id, "kind": kind, "deleted": deleted, "at": at},
    )
    db.execute(
        "UPDATE records SET has_images = EXISTS (SELECT 1 FROM record_assets a "
        "WHERE a.record_id = records.id AND a.kind = 'image' AND NOT a.deleted) "
        "WHERE id = CAST(:r AS uuid)",
        {"r": record_id},
    )


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
