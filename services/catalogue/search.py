"""Search: PostgreSQL full text over unaccented, lower-cased words, facets, geography, cursors.

Diacritics and case never matter: the stored vector and the query both go through
``disan_fold`` (an immutable wrapper of ``unaccent``). The last word of a query matches as a
prefix, so type-ahead works. Facets count the whole filtered set in one GROUPING SETS query.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from services.access.domain import POLICY_LEVELS, Principal
from services.catalogue import domain
from shared.db import DbSession

MAX_TOKENS = 12
_WORD = re.compile(r"\w+", re.UNICODE)

FACETS = {
    "class": "heritage_class",
    "rank": "rank",
    "district": "district",
    "unesco": "unesco",
    "has_images": "has_images",
    "state": "state",
}
_DISTANCE = (
    "(2 * 6371 * asin(sqrt(power(sin(radians(lat - :near_lat) / 2), 2) + "
    "cos(radians(:near_lat)) * cos(radians(lat)) * power(sin(radians(lon - :near_lon) / 2), 2))))"
)
_SORT_KEYS = {
    "relevance": ("ts_rank_cd(search_vector, query.tsq)", "desc", "double precision"),
    "title": ("title_sort", "asc", "text"),
    "-title": ("title_sort", "desc", "text"),
    "updated": ("updated_at", "asc", "timestamptz"),
    "-updated": ("updated_at", "desc", "timestamptz"),
    "inventory": ("inventory_number", "asc", "text"),
    "distance": (_DISTANCE, "asc", "double precision"),
}


def tokens(q: str) -> list[str]:
    return _WORD.findall(q)[:MAX_TOKENS]


def _tsquery_sql() -> str:
    # every word exact except the last, which matches as a prefix; quote_literal keeps
    # tsquery operators in user input inert
    return (
        "(SELECT to_tsquery('simple', array_to_string(ARRAY("
        "SELECT quote_literal(disan_fold(t.w)) || CASE WHEN t.n = :ntok THEN ':*' ELSE '' END "
        "FROM unnest(CAST(:tokens AS text[])) WITH ORDINALITY AS t(w, n) ORDER BY t.n), ' & '))"
        " AS tsq)"
    )


def search(
    db: DbSession, params: dict[str, Any], principal: Principal, now: datetime
) -> dict[str, Any]:
    """One page of records the principal may see, the facets of the whole result, a cursor."""
    staff = domain.is_staff(principal.roles)
    where: list[str] = []
    args: dict[str, Any] = {}
    words = tokens(params.get("q") or "")
    if words:
        where.append("search_vector @@ query.tsq")
        args |= {"tokens": words, "ntok": len(words)}
    if not staff:
        where.append("state = 'published'")
        levels = domain.visible_levels(principal, now)
        if set(levels) != set(POLICY_LEVELS):
            where.append(
                "(access_level = ANY(:levels) OR (access_level = 'embargoed' "
                "AND embargo_until <= now() AND :public_ok))"
            )
            args |= {"levels": sorted(levels), "public_ok": "public" in levels}
    elif params.get("state"):
        where.append("state = :state")
        args["state"] = params["state"]
    for key, column in (
        ("heritage_class", "heritage_class"),
        ("rank", "rank"),
        ("district", "district"),
        ("unesco", "unesco"),
        ("has_images", "has_images"),
    ):
        if params.get(key) is not None:
            where.append(f"{column} = :{key}")
            args[key] = params[key]
    boxes = []
    if params.get("bbox"):
        boxes.append(domain.parse_bbox(params["bbox"]))
    near = domain.parse_near(params["near"]) if params.get("near") else None
    if near is not None:
        boxes.append(near.box())
        where.append(f"{_DISTANCE} <= :near_km")
        args |= {"near_lat": near.lat, "near_lon": near.lon, "near_km": near.km}
    for i, box in enumerate(boxes):
        where.append(f"lat BETWEEN :s{i} AND :n{i} AND lon BETWEEN :w{i} AND :e{i}")
        args |= {f"s{i}": box.south, f"n{i}": box.north, f"w{i}": box.west, f"e{i}": box.east}

    sort = params.get("sort") or ("relevance" if words else "title")
    if sort == "relevance" and not words:
        sort = "title"
    if sort == "distance" and near is None:
        raise domain.ValidationFailed("sort=distance needs near=lat,lon,km")
    key_sql, direction, key_type = _SORT_KEYS[sort]
    source = "records" + (f", {_tsquery_sql()} query" if words else "")
    filters = " AND ".join(where) or "true"

    page_where = filters
    if params.get("cursor"):
        key, last_id = domain.decode_cursor(params["cursor"], sort)
        op = ">" if direction == "asc" else "<"
        page_where += (
            f" AND ({key_sql}, id) {op} (CAST(:cursor_key AS {key_type}), CAST(:cursor_id AS uuid))"
        )
        args |= {"cursor_key": key, "cursor_id": last_id}
    limit = int(params.get("limit") or 20)
    distance = f", {_DISTANCE} AS distance_km" if near is not None else ""
    rows = db.execute(
        f"SELECT id::text AS id, inventory_number, heritage_class, state, version, data, "
        f"has_images, access_level, updated_at, {key_sql} AS sort_key{distance} "
        f"FROM {source} WHERE {page_where} "
        f"ORDER BY {key_sql} {direction}, id {direction} LIMIT :limit",
        args | {"limit": limit + 1},
    ).mappings()
    found = [dict(r) for r in rows]
    more = len(found) > limit
    found = found[:limit]
    next_cursor = None
    if more and found:
        last = found[-1]
        next_cursor = domain.encode_cursor(sort, _key(last["sort_key"]), last["id"])
    facets = _facets(db, source, filters, args, staff)
    return {
        "items": [summary(r, staff) for r in found],
        "facets": facets,
        "total": sum(f["count"] for f in facets["class"]),
        "next": next_cursor,
        "sort": sort,
    }


def _key(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _facets(
    db: DbSession, source: str, filters: str, args: dict[str, Any], staff: bool
) -> dict[str, list[dict[str, Any]]]:
    names = [n for n in FACETS if staff or n != "state"]
    columns = [FACETS[n] for n in names]
    sets = ", ".join(f"({c})" for c in columns)
    grouping = ", ".join(f"GROUPING({c}) AS g_{c}" for c in columns)
    rows = db.execute(
        f"SELECT {', '.join(columns)}, {grouping}, count(*) AS n FROM {source} "
        f"WHERE {filters} GROUP BY GROUPING SETS ({sets})",
        args,
    ).mappings()
    facets: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for row in rows:
        for name, column in zip(names, columns, strict=True):
            if row[f"g_{column}"] == 0:
                facets[name].append({"value": row[column], "count": int(row["n"])})
    for values in facets.values():
        values.sort(key=lambda v: (-v["count"], str(v["value"])))
    return facets


def summary(row: dict[str, Any], staff: bool) -> dict[str, Any]:
    """What a result list shows of a record."""
    data = row["data"]
    out: dict[str, Any] = {
        "id": row["id"],
        "inventory_number": row["inventory_number"],
        "heritage_class": row["heritage_class"],
        "heritage_type": data.get("heritage_type"),
        "title": data["title"],
        "rank": (data.get("rank") or {}).get("level"),
        "unesco": data.get("unesco"),
        "location": data.get("location"),
        "district": (data.get("address") or {}).get("district_pre2025"),
        "has_images": row["has_images"],
        "updated_at": row["updated_at"].isoformat(),
    }
    if "distance_km" in row:
        out["distance_km"] = round(float(row["distance_km"]), 3)
    if staff:
        out |= {"state": row["state"], "version": row["version"], "access": row["access_level"]}
    return out
