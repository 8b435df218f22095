"""Search: PostgreSQL full text over unaccented, lower-cased words, facets, geography, cursors.

Diacritics and case never matter: the stored vector and the query both go through
``disan_fold`` (an immutable wrapper of ``unaccent``). The last word of a query matches as a
prefix, so type-ahead works. Facets count the whole filtered set in one GROUPING SETS query.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from services.catalogue import domain
from services.catalogue import repository as repo
from shared.db import DbSession
from shared.errors import ValidationFailed
from shared.languages import vi_first
from shared.principals import POLICY_LEVELS, Principal

MAX_TOKENS = 12
_WORD = re.compile(r"\w+", re.UNICODE)

FACETS = {
    "class": "heritage_class",
    "rank": "rank",
    "district": "district",
    "commune": "commune",
    "unesco": "unesco",
    "has_images": "has_images",
    "state": "state",
}
# filters that are vocabulary codes: parameter -> scheme
FILTER_SCHEMES = {"rank": "rank", "district": "district", "commune": "commune_pre2025"}
_DISTANCE = (
    "(2 * 6371 * asin(sqrt(power(sin(radians(lat - :near_lat) / 2), 2) + "
    "cos(radians(:near_lat)) * cos(radians(lat)) * power(sin(radians(lon - :near_lon) / 2), 2))))"
)
_SORT_KEYS = {
    # an exact title (vi or en, diacritics, case and punctuation aside) first, then the full
    # text rank, scaled into [0, 1) by normalisation 32
    "relevance": (
        "(CASE WHEN disan_fold(CAST(:exact AS text)) IN "
        "(trim(regexp_replace(title_sort, '[^[:alnum:]]+', ' ', 'g')), "
        "trim(regexp_replace(disan_fold(data->'title'->>'en'), '[^[:alnum:]]+', ' ', 'g'))) "
        "THEN 1 ELSE 0 END + ts_rank_cd(search_vector, query.tsq, 32))",
        "desc",
        "double precision",
    ),
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
    check_filters(db, params, staff)
    where: list[str] = []
    args: dict[str, Any] = {}
    words = tokens(params.get("q") or "")
    if words:
        where.append("search_vector @@ query.tsq")
        args |= {"tokens": words, "ntok": len(words), "exact": " ".join(words)}
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
        ("commune", "commune"),
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
        raise ValidationFailed("sort=distance needs near=lat,lon,km")
    key_sql, direction, key_type = _SORT_KEYS[sort]
    source = "records" + (f", {_tsquery_sql()} query" if words else "")
    filters = " AND ".join(where) or "true"

    names = [n for n in FACETS if staff or n != "state"]
    columns = [FACETS[n] for n in names]
    page_where = "true"
    if params.get("cursor"):
        key, last_id = domain.decode_cursor(params["cursor"], sort)
        op = ">" if direction == "asc" else "<"
        page_where = (
            f"(m.sort_key, m.id) {op} (CAST(:cursor_key AS {key_type}), CAST(:cursor_id AS uuid))"
        )
        args |= {"cursor_key": key, "cursor_id": last_id}
    limit = int(params.get("limit") or 20)
    distance = f", {_DISTANCE} AS distance_km" if near is not None else ", NULL AS distance_km"
    sets = ", ".join(f"({c})" for c in columns)
    grouping = ", ".join(f"GROUPING({c}) AS g_{c}" for c in columns)
    flags = ", ".join(f"g_{c}" for c in columns)
    # one pass over the matching rows serves both the facets and the page
    rows = db.execute(
        f"WITH m AS MATERIALIZED (SELECT id, {', '.join(FACETS.values())}, "
        f"{key_sql} AS sort_key{distance} FROM {source} WHERE {filters}), "
        f"f AS (SELECT jsonb_agg(jsonb_build_array({', '.join(columns)}, "
        f"jsonb_build_array({flags}), n)) AS facets FROM (SELECT {', '.join(columns)}, "
        f"{grouping}, count(*) AS n FROM m GROUP BY GROUPING SETS ({sets})) g), "
        f"p AS (SELECT m.id, m.sort_key, m.distance_km FROM m WHERE {page_where} "
        f"ORDER BY m.sort_key {direction}, m.id {direction} LIMIT :limit) "
        f"SELECT f.facets, r.id::text AS id, r.inventory_number, r.heritage_class, r.state, "
        f"r.version, r.data, r.has_images, r.access_level, r.updated_at, p.sort_key, "
        f"p.distance_km FROM f LEFT JOIN p ON true LEFT JOIN records r ON r.id = p.id "
        f"ORDER BY p.sort_key {direction}, p.id {direction}",
        args | {"limit": limit + 1},
    ).mappings()
    found = [dict(r) for r in rows]
    facets = _facets(found[0]["facets"] if found else None, names, columns)
    _label(facets, repo.vocabulary_labels(db, set(FILTER_SCHEMES.values())))
    found = [r for r in found if r["id"] is not None]
    more = len(found) > limit
    found = found[:limit]
    next_cursor = None
    if more and found:
        last = found[-1]
        next_cursor = domain.encode_cursor(sort, _key(last["sort_key"]), last["id"])
    return {
        "items": [summary(r, staff) for r in found],
        "facets": facets,
        "total": sum(f["count"] for f in facets["class"]),
        "next": next_cursor,
        "sort": sort,
    }


def check_filters(db: DbSession, params: dict[str, Any], staff: bool) -> None:
    """A 422 naming each filter that can match nothing: a code no vocabulary has, or a
    workflow state asked for by someone who sees only published records."""
    errors: dict[str, list[str]] = {}
    asked = {k: params[k] for k in FILTER_SCHEMES if params.get(k) is not None}
    known = repo.vocabulary_codes(db, {FILTER_SCHEMES[k] for k in asked}) if asked else {}
    for key, code in asked.items():
        scheme = FILTER_SCHEMES[key]
        if code not in known.get(scheme, set()):
            errors[key] = [f"unknown {scheme} code {code!r} (GET /api/v1/vocabularies/{scheme})"]
    if params.get("state") is not None and not staff:
        errors["state"] = ["only staff filter by workflow state; others see published records"]
    if errors:
        raise ValidationFailed(f"invalid search parameter(s): {', '.join(errors)}", errors)


def _label(facets: dict[str, list[dict[str, Any]]], terms: dict[str, Any]) -> None:
    """Each facet value with its vi/en label (the code itself where no label is known)."""
    for name, items in facets.items():
        for item in items:
            value = item["value"]
            if name == "class":
                label = domain.CLASS_LABELS.get(value)
            elif name == "state":
                label = domain.STATE_LABELS.get(value)
            elif name in domain.FLAG_LABELS:
                label = domain.FLAG_LABELS[name].get(bool(value))
            else:
                label = terms.get(FILTER_SCHEMES[name], {}).get(value)
            if value is None:
                label = {"vi": "Chưa xác định", "en": "Not given"}
            item["label"] = vi_first(label or {"vi": str(value), "en": str(value)})


def _key(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _facets(
    rows: list[list[Any]] | None, names: list[str], columns: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Facet counts from the ``[values…, [grouping flags…], count]`` rows of GROUPING SETS."""
    facets: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for row in rows or []:
        values, flags, count = row[: len(columns)], row[len(columns)], row[-1]
        for i, name in enumerate(names):
            if flags[i] == 0:
                facets[name].append({"value": values[i], "count": int(count)})
    for items in facets.values():
        items.sort(key=lambda v: (-v["count"], str(v["value"])))
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
    if row.get("distance_km") is not None:
        out["distance_km"] = round(float(row["distance_km"]), 3)
    if staff:
        out |= {"state": row["state"], "version": row["version"], "access": row["access_level"]}
    return out
