"""SQL of the annotations: rows, who may see them, containers' pages, research groups.

Every function takes the caller's ``DbSession`` and runs in its transaction. ``visible_sql``
is the one place the read rule lives: public to everyone; private to the author; group to the
group's members; everything to administrators.
"""

from __future__ import annotations

import json
from typing import Any

from shared.db import DbSession

Row = dict[str, Any]


def visible_sql(viewer: str | None, admin: bool) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (and its parameters) of the annotations ``viewer`` may read."""
    if admin:
        return "TRUE", {}
    if viewer is None:
        return "a.visibility = 'public'", {}
    return (
        "(a.visibility = 'public' OR a.author_id = :viewer OR (a.visibility = 'group' AND "
        "EXISTS (SELECT 1 FROM annotation_group_members m WHERE m.grp = a.grp "
        "AND m.user_id = :viewer)))",
        {"viewer": viewer},
    )


def insert(db: DbSession, row: Row) -> Row:
    created = db.execute(
        "INSERT INTO annotations (annotation_id, record_id, canvas_id, canvas_key, x, y, w, h, "
        "motivation, bodies, body_text, visibility, grp, line, author_id, author_name) VALUES "
        "(CAST(:annotation_id AS uuid), CAST(:record_id AS uuid), :canvas_id, :canvas_key, :x, "
        ":y, :w, :h, :motivation, CAST(:bodies AS jsonb), :body_text, :visibility, :grp, :line, "
        ":author_id, :author_name) RETURNING *",
        row | {"bodies": json.dumps(row["bodies"], ensure_ascii=False)},
    ).first()
    assert created is not None
    return dict(created._mapping)


def get(db: DbSession, annotation_id: str, lock: bool = False) -> Row | None:
    row = db.execute(
        "SELECT * FROM annotations WHERE annotation_id = CAST(:id AS uuid)"
        + (" FOR UPDATE" if lock else ""),
        {"id": annotation_id},
    ).first()
    return dict(row._mapping) if row is not None else None


def update(db: DbSession, annotation_id: str, row: Row) -> Row:
    updated = db.execute(
        "UPDATE annotations SET canvas_id = :canvas_id, canvas_key = :canvas_key, x = :x, y = :y, "
        "w = :w, h = :h, motivation = :motivation, bodies = CAST(:bodies AS jsonb), "
        "body_text = :body_text, visibility = :visibility, grp = :grp, line = :line, "
        "version = version + 1, updated_at = now() "
        "WHERE annotation_id = CAST(:id AS uuid) RETURNING *",
        row | {"id": annotation_id, "bodies": json.dumps(row["bodies"], ensure_ascii=False)},
    ).first()
    assert updated is not None
    return dict(updated._mapping)


def delete(db: DbSession, annotation_id: str) -> None:
    db.execute(
        "DELETE FROM annotations WHERE annotation_id = CAST(:id AS uuid)", {"id": annotation_id}
    )


def _scope(record_id: str, canvas_key: str | None) -> tuple[str, dict[str, Any]]:
    where = "a.record_id = CAST(:record_id AS uuid)"
    params: dict[str, Any] = {"record_id": record_id}
    if canvas_key is not None:
        where += " AND a.canvas_key = :canvas_key"
        params["canvas_key"] = canvas_key
    return where, params


def count(
    db: DbSession, record_id: str, canvas_key: str | None, viewer: str | None, admin: bool
) -> int:
    scope, params = _scope(record_id, canvas_key)
    seen, more = visible_sql(viewer, admin)
    value = db.execute(
        f"SELECT count(*) FROM annotations a WHERE {scope} AND {seen}",  # noqa: S608 - fixed
        params | more,
    ).scalar()
    return int(value or 0)


def page(
    db: DbSession,
    record_id: str,
    canvas_key: str | None,
    viewer: str | None,
    admin: bool,
    limit: int,
    offset: int,
) -> list[Row]:
    """One page of a container, transcription lines in order, then the rest oldest first."""
    scope, params = _scope(record_id, canvas_key)
    seen, more = visible_sql(viewer, admin)
    rows = db.execute(
        f"SELECT a.* FROM annotations a WHERE {scope} AND {seen} "  # noqa: S608 - fixed
        "ORDER BY a.canvas_key, a.line NULLS LAST, a.created_at, a.annotation_id "
        "LIMIT :limit OFFSET :offset",
        params | more | {"limit": limit, "offset": offset},
    )
    return [dict(r._mapping) for r in rows]


def public_canvases(db: DbSession, record_id: str) -> list[Row]:
    """The canvases of a record that have public annotations (``canvas_id``, ``canvas_key``)."""
    rows = db.execute(
        "SELECT canvas_key, min(canvas_id) AS canvas_id FROM annotations "
        "WHERE record_id = CAST(:id AS uuid) AND visibility = 'public' "
        "GROUP BY canvas_key ORDER BY canvas_key",
        {"id": record_id},
    )
    return [dict(r._mapping) for r in rows]


def matching(
    db: DbSession,
    record_id: str,
    patterns: list[str],
    motivation: str | None,
    viewer: str | None,
    admin: bool,
    limit: int,
    offset: int,
) -> tuple[int, list[Row]]:
    """Annotations whose folded text matches every pattern; their count and one page."""
    seen, more = visible_sql(viewer, admin)
    # one condition per word, so the trigram index on the folded text serves each
    words = " AND ".join(f"a.body_fold ~ :p{n}" for n in range(len(patterns))) or "TRUE"
    where = f"a.record_id = CAST(:record_id AS uuid) AND {seen} AND {words}"
    params: dict[str, Any] = (
        {"record_id": record_id} | {f"p{n}": p for n, p in enumerate(patterns)} | more
    )
    if motivation is not None:
        where += " AND a.motivation = :motivation"
        params["motivation"] = motivation
    total = db.execute(
        f"SELECT count(*) FROM annotations a WHERE {where}",  # noqa: S608 - fixed
        params,
    ).scalar()
    rows = db.execute(
        f"SELECT a.* FROM annotations a WHERE {where} "  # noqa: S608 - fixed
        "ORDER BY a.canvas_key, a.line NULLS LAST, a.created_at, a.annotation_id "
        "LIMIT :limit OFFSET :offset",
        params | {"limit": limit, "offset": offset},
    )
    return int(total or 0), [dict(r._mapping) for r in rows]


def words_starting(
    db: DbSession,
    record_id: str,
    prefix: str,
    pattern: str,
    motivation: str | None,
    viewer: str | None,
    admin: bool,
    scan: int,
    limit: int,
) -> list[Row]:
    """Words (lower case, with their diacritics) of readable annotations whose folded form
    starts with ``prefix``, and how often each occurs; ``pattern`` preselects the texts."""
    seen, more = visible_sql(viewer, admin)
    where = f"a.record_id = CAST(:record_id AS uuid) AND {seen} AND a.body_fold ~ :pattern"
    params: dict[str, Any] = more | {
        "record_id": record_id,
        "pattern": pattern,
        "prefix": prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
        "scan": scan,
        "limit": limit,
    }
    if motivation is not None:
        where += " AND a.motivation = :motivation"
        params["motivation"] = motivation
    rows = db.execute(
        "SELECT lower(w) AS word, count(*) AS n FROM "  # noqa: S608 - fixed clauses
        f"(SELECT a.body_text FROM annotations a WHERE {where} LIMIT :scan) AS t, "
        "regexp_split_to_table(t.body_text, '[^[:alnum:]_]+') AS w "
        "WHERE w <> '' AND disan_fold(w) LIKE :prefix "
        "GROUP BY lower(w) ORDER BY n DESC, word LIMIT :limit",
        params,
    )
    return [dict(r._mapping) for r in rows]


# research groups -------------------------------------------------------------------------------


def put_group(db: DbSession, name: str, label: dict[str, str], members: list[str], by: str) -> None:
    db.execute(
        "INSERT INTO annotation_groups (name, label, updated_by) VALUES "
        "(:name, CAST(:label AS jsonb), :by) ON CONFLICT (name) DO UPDATE SET "
        "label = EXCLUDED.label, updated_by = EXCLUDED.updated_by, updated_at = now()",
        {"name": name, "label": json.dumps(label, ensure_ascii=False), "by": by},
    )
    db.execute("DELETE FROM annotation_group_members WHERE grp = :name", {"name": name})
    db.execute(
        "INSERT INTO annotation_group_members (grp, user_id) "
        "SELECT :name, unnest(CAST(:members AS text[])) ON CONFLICT DO NOTHING",
        {"name": name, "members": members},
    )


def groups(db: DbSession, member: str | None) -> list[Row]:
    """Every group (``member`` None) or the groups ``member`` belongs to, with their members."""
    rows = db.execute(
        "SELECT g.name, g.label, g.updated_by, g.updated_at, "
        "COALESCE(array_agg(m.user_id ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL), "
        "'{}') AS members FROM annotation_groups g "
        "LEFT JOIN annotation_group_members m ON m.grp = g.name "
        "WHERE CAST(:member AS text) IS NULL OR EXISTS (SELECT 1 FROM annotation_group_members x "
        "WHERE x.grp = g.name AND x.user_id = :member) "
        "GROUP BY g.name ORDER BY g.name",
        {"member": member},
    )
    return [dict(r._mapping) for r in rows]


def is_member(db: DbSession, group: str, user_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM annotation_group_members WHERE grp = :g AND user_id = :u",
        {"g": group, "u": user_id},
    ).first()
    return row is not None
