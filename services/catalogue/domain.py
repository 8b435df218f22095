"""The catalogue's rules: heritage classes, workflow, versions and diffs, visibility, search terms.

Pure: no I/O and no framework. Errors are the cross-service types of ``shared.errors``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any

from iiif.search import fold
from shared import principals
from shared.errors import BadRequest, Conflict, Forbidden, ValidationFailed
from shared.languages import language_rank
from shared.record_schemas import ALL_BLOCKS as ALL_BLOCKS
from shared.record_schemas import CLASS_BLOCKS as CLASS_BLOCKS
from shared.record_schemas import CLASSES as CLASSES
from shared.record_schemas import REQUIRED_BLOCKS as REQUIRED_BLOCKS
from shared.record_schemas import SORTS as SORTS
from shared.record_schemas import STATES as STATES
from shared.record_schemas import class_block_errors as class_block_errors

# labels of the fixed codes (facets show them beside the code; vocabulary terms have their own)
CLASS_LABELS: dict[str, dict[str, str]] = {
    "tangible_site": {"vi": "Di tích", "en": "Heritage sites"},
    "intangible": {"vi": "Di sản văn hóa phi vật thể", "en": "Intangible cultural heritage"},
    "museum_object": {"vi": "Hiện vật bảo tàng", "en": "Museum objects"},
    "documentary": {"vi": "Di sản tư liệu", "en": "Documentary heritage"},
}
STATE_LABELS: dict[str, dict[str, str]] = {
    "draft": {"vi": "Bản nháp", "en": "Draft"},
    "in_review": {"vi": "Đang duyệt", "en": "In review"},
    "published": {"vi": "Đã công bố", "en": "Published"},
    "withdrawn": {"vi": "Đã rút", "en": "Withdrawn"},
}
FLAG_LABELS: dict[str, dict[bool, dict[str, str]]] = {
    "unesco": {
        True: {"vi": "Được UNESCO ghi danh", "en": "Inscribed by UNESCO"},
        False: {"vi": "Chưa được UNESCO ghi danh", "en": "Not inscribed by UNESCO"},
    },
    "has_images": {
        True: {"vi": "Có hình ảnh", "en": "With images"},
        False: {"vi": "Chưa có hình ảnh", "en": "Without images"},
    },
}

# workflow: (state, action) -> new state, and the roles that may take the action
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "submit"): "in_review",
    ("in_review", "reject"): "draft",
    ("in_review", "publish"): "published",
    ("published", "withdraw"): "withdrawn",
    ("withdrawn", "publish"): "published",
    ("withdrawn", "redraft"): "draft",
}
ACTION_ROLES: dict[str, frozenset[str]] = {
    "submit": frozenset({principals.ADMIN, principals.CATALOGUER}),
    "redraft": frozenset({principals.ADMIN, principals.CATALOGUER, principals.REVIEWER}),
    "reject": frozenset({principals.ADMIN, principals.REVIEWER}),
    "publish": frozenset({principals.ADMIN, principals.REVIEWER}),
    "withdraw": frozenset({principals.ADMIN, principals.REVIEWER}),
}
ACTIONS = frozenset(ACTION_ROLES)
# a step back says why (the cataloguer must know what to fix, the public why a record went);
# the others may carry a comment
COMMENT_REQUIRED = frozenset({"reject", "withdraw"})
EDITORS = frozenset({principals.ADMIN, principals.CATALOGUER})
EVENT_OF_STATE = {
    "published": "catalogue.record_published",
    "withdrawn": "catalogue.record_withdrawn",
}

# vocabulary references in a record: (path, scheme)
VOCABULARY_FIELDS: tuple[tuple[str, str], ...] = (
    ("heritage_type", "heritage_type"),
    ("rank.level", "rank"),
    ("unesco.list", "unesco_list"),
    ("intangible.domain", "intangible_domain"),
    ("intangible.listing", "listing"),
    ("museum_object.materials", "material"),
    ("museum_object.period", "period"),
    ("documentary.scripts", "script"),
    ("documentary.period", "period"),
    ("address.district_pre2025", "district"),
    ("address.province_pre2025", "province"),
    ("address.province_current", "province"),
    ("address.commune_pre2025.code", "commune_pre2025"),
    ("address.commune_current.code", "commune_current"),
    ("periods", "period"),
    ("relations.type", "relation"),
)


SCHEMES = tuple(sorted({scheme for _, scheme in VOCABULARY_FIELDS}))


def jsonable(value: Any) -> Any:
    """Dates as ISO strings, recursively (what jsonb stores and clients read)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def get_path(doc: Any, path: str) -> list[Any]:
    """Every value at a dotted path (lists are walked), ignoring missing parts."""
    values = [doc]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, list):
                nxt.extend(v.get(part) for v in value if isinstance(v, dict))
            elif isinstance(value, dict):
                nxt.append(value.get(part))
        values = [v for v in nxt if v is not None]
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


_VOCABULARY_HEADS = tuple((path, path.split(".")[0], scheme) for path, scheme in VOCABULARY_FIELDS)


def vocabulary_refs(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every ``(field, scheme, code)`` a record uses (absent blocks skipped at once: imports
    check this for every row)."""
    return [
        (path, scheme, str(code))
        for path, head, scheme in _VOCABULARY_HEADS
        if doc.get(head)
        for code in get_path(doc, path)
    ]


def unknown_terms(doc: dict[str, Any], known: dict[str, set[str]]) -> dict[str, list[str]]:
    """Vocabulary codes the record uses that are not in ``known`` (scheme -> codes)."""
    errors: dict[str, list[str]] = {}
    for path, scheme, code in vocabulary_refs(doc):
        if code not in known.get(scheme, set()):
            errors.setdefault(path, []).append(f"unknown {scheme} term {code!r}")
    return errors


# communes: vocabulary terms given by code or by name -----------------------------------------

PLACE_FIELDS = ("commune_pre2025", "commune_current")  # in ``address``; scheme = field name
_UNIT_WORDS = ("xa ", "phuong ", "thi tran ", "dac khu ")


def place_key(name: str) -> str:
    """A commune name folded for matching: no diacritics, case or unit word ("xã", "phường")."""
    key = " ".join(fold(name).split())
    for word in _UNIT_WORDS:
        key = key.removeprefix(word)
    return key


# a commune's term names its district (pre-2025) or its province (current) as ``broader``
PLACE_PARENTS = {"commune_pre2025": "district_pre2025", "commune_current": "province_current"}


def resolve_places(
    doc: dict[str, Any],
    terms: dict[str, dict[str, dict[str, str]]],
    parents: dict[str, dict[str, str | None]] | None = None,
    successors: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The document with each commune as ``{code, vi, en}`` of its term (found by code or by
    name); errors for names no term has or several have, and for a commune outside the
    record's district or province (``parents``: scheme -> code -> broader). A pre-2025 commune
    taken in whole by one current commune (``successors``, ADR 0046) gives the record its
    current commune when none is given, so the record keeps both. Unknown codes are left to
    the vocabulary check."""
    address = doc.get("address")
    if not address or not any(address.get(f) for f in PLACE_FIELDS):
        return doc, {}
    errors: dict[str, list[str]] = {}
    resolved = dict(address)
    for field in PLACE_FIELDS:
        ref = address.get(field)
        if not ref:
            continue
        scheme = terms.get(field, {})
        code = ref.get("code")
        if code is None:
            code, problem = _by_name(field, ref["vi"], scheme, address, parents)
            if code is None:
                errors[f"address.{field}"] = [problem]
                continue
        labels = scheme.get(code)
        resolved[field] = {"code": code} | (labels if labels is not None else {})
        misplaced = _misplaced(field, code, address, parents)
        if misplaced:
            errors[f"address.{field}"] = [misplaced]
    _succeed(resolved, terms, parents, successors)
    return doc | {"address": resolved}, errors


def _by_name(
    field: str,
    name: str,
    scheme: dict[str, dict[str, str]],
    address: dict[str, Any],
    parents: dict[str, dict[str, str | None]] | None,
) -> tuple[str | None, str]:
    """The code of the one term named ``name`` (diacritics aside; where several are, the one
    spelt exactly so, then the one in the address's district or province), or why none."""
    key = place_key(name)
    found = sorted(c for c, lab in scheme.items() if place_key(lab["vi"]) == key)
    exact = [c for c in found if _spelt(scheme[c]["vi"]) == _spelt(name)]
    found = exact or found
    parent_field = PLACE_PARENTS[field]
    given = address.get(parent_field)
    broader = (parents or {}).get(field, {})
    if given:
        found = [c for c in found if broader.get(c) == given] or found
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"unknown {field} {name!r}: give a code of the vocabulary {field}"
    return None, (
        f"{field} {name!r} is ambiguous ({', '.join(found[:5])}): give its code or the "
        f"{parent_field}"
    )


def _spelt(name: str) -> str:
    """A name as written (diacritics kept), case, spacing and unit word aside."""
    text = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    for word in ("xã ", "phường ", "thị trấn ", "đặc khu "):
        text = text.removeprefix(word)
    return text


def _succeed(
    address: dict[str, Any],
    terms: dict[str, dict[str, dict[str, str]]],
    parents: dict[str, dict[str, str | None]] | None,
    successors: dict[str, str] | None,
) -> None:
    """Give the address the current commune that took its pre-2025 commune in whole."""
    old = (address.get("commune_pre2025") or {}).get("code")
    new = (successors or {}).get(old) if old else None
    if new is None or address.get("commune_current"):
        return
    address["commune_current"] = {"code": new} | terms.get("commune_current", {}).get(new, {})
    province = (parents or {}).get("commune_current", {}).get(new)
    if province and not address.get("province_current"):
        address["province_current"] = province


def _misplaced(
    field: str, code: str, address: dict[str, Any], parents: dict[str, dict[str, str | None]] | None
) -> str | None:
    """Why a commune cannot be in the address's district (or province), or None."""
    parent_field = PLACE_PARENTS[field]
    given = address.get(parent_field)
    broader = (parents or {}).get(field, {}).get(code)
    if not given or not broader or given == broader:
        return None
    return (
        f"{field} {code!r} is in {parent_field.split('_')[0]} {broader!r}, not in "
        f"{parent_field} {given!r}"
    )


# what the search needs from a record ------------------------------------------------------------


LANGUAGES = frozenset({"vi", "en"})


def _texts(value: Any) -> list[str]:
    """The texts of every language map inside ``value`` (codes and numbers are not words)."""
    if isinstance(value, dict):
        if value and set(value) <= LANGUAGES:
            return [v for v in value.values() if isinstance(v, str)]
        if "code" in value and set(value) <= LANGUAGES | {"code"}:  # a commune: its names
            return [value[k] for k in sorted(LANGUAGES & set(value)) if isinstance(value[k], str)]
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def search_text(doc: dict[str, Any]) -> str:
    """The words a record is found by: titles first, then everything else written in it."""
    parts = [doc.get("inventory_number", "")]
    parts += _texts(doc.get("title"))
    parts += _texts(doc.get("alternative_titles"))
    for key in ("description", "address", "intangible", "museum_object", "documentary"):
        parts += _texts(doc.get(key))
    parts += _texts(doc.get("subjects"))
    return " ".join(p for p in parts if p)[:200_000]


def columns(doc: dict[str, Any]) -> dict[str, Any]:
    """The denormalised columns of a record row (search filters, facets, sort)."""
    location = doc.get("location") or {}
    rank = doc.get("rank") or {}
    address = doc.get("address") or {}
    return {
        "inventory_number": doc["inventory_number"],
        "heritage_class": doc["heritage_class"],
        "title_sort": doc["title"]["vi"][:500],
        "rank": rank.get("level"),
        "district": address.get("district_pre2025"),
        "commune": (address.get("commune_pre2025") or {}).get("code"),
        "unesco": doc.get("unesco") is not None,
        "lat": location.get("lat"),
        "lon": location.get("lon"),
        "search_text": search_text(doc),
    }


# workflow ---------------------------------------------------------------------------------------


def transition(state: str, action: str, roles: frozenset[str]) -> str:
    """The state after ``action``; Forbidden for the wrong role, Conflict from the wrong state."""
    if action not in ACTION_ROLES:
        raise ValidationFailed(f"action is one of {', '.join(sorted(ACTIONS))}")
    if not roles & ACTION_ROLES[action]:
        raise Forbidden(f"only {' or '.join(sorted(ACTION_ROLES[action]))} may {action} a record")
    new_state = TRANSITIONS.get((state, action))
    if new_state is None:
        possible = sorted(a for (s, a) in TRANSITIONS if s == state)
        raise Conflict(
            f"a {state} record cannot be {action}ed; possible: {', '.join(possible) or 'none'}"
        )
    return new_state


def require_editor(roles: frozenset[str]) -> None:
    if not roles & EDITORS:
        raise Forbidden("only cataloguers and administrators edit records")


def is_staff(roles: frozenset[str]) -> bool:
    return bool(roles & principals.STAFF)


def visible_levels(principal: principals.Principal, now: dt.datetime) -> frozenset[str]:
    """The policy levels whose records ``principal`` may read, as ``authorize`` decides."""
    return frozenset(
        level
        for level in principals.POLICY_LEVELS
        if principals.authorize(
            principal, "read", principals.Item("record", "-", principals.Policy(level)), now
        ).allowed
    )


# versions ---------------------------------------------------------------------------------------


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """The changes between two documents, as ``{path, before, after}`` at the leaves."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=language_rank):  # title.vi, title.en
            sub = f"{path}.{key}" if path else str(key)
            changes += diff(before.get(key), after.get(key), sub)
        return changes
    if before == after:
        return []
    return [{"path": path, "before": before, "after": after}]


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted({c["path"].split(".")[0] for c in diff(before, after)})


# geography --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    km: float

    def box(self) -> Box:
        dlat = self.km / 111.2
        dlon = self.km / (111.2 * max(math.cos(math.radians(self.lat)), 0.01))
        return Box(self.lat - dlat, self.lon - dlon, self.lat + dlat, self.lon + dlon)


def _floats(raw: str, count: int, name: str, form: str) -> list[float]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise ValidationFailed(f"{name} is {form}") from None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise ValidationFailed(f"{name} is {form}")
    return values


def parse_bbox(raw: str) -> Box:
    """``south,west,north,east`` in degrees (WGS 84)."""
    s, w, n, e = _floats(raw, 4, "bbox", "south,west,north,east in degrees")
    if not (-90 <= s <= n <= 90 and -180 <= w <= e <= 180):
        raise ValidationFailed("bbox is south,west,north,east with south<=north, west<=east")
    return Box(s, w, n, e)


def parse_near(raw: str) -> Near:
    """``lat,lon,km``: records within ``km`` kilometres of a point."""
    lat, lon, km = _floats(raw, 3, "near", "lat,lon,km")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < km <= 500):
        raise ValidationFailed("near is lat,lon,km with a radius up to 500 km")
    return Near(lat, lon, km)


# cursors ----------------------------------------------------------------------------------------


def encode_cursor(sort: str, key: Any, record_id: str) -> str:
    raw = json.dumps([sort, key, record_id], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The sort key and id after which the next page starts; BadRequest if it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        got_sort, key, record_id = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise BadRequest("invalid cursor") from None
    if got_sort != sort or not isinstance(record_id, str):
        raise BadRequest("the cursor belongs to another sort order")
    return key, record_id


# CSV: dotted column names <-> nested documents --------------------------------------------------

LIST_FIELDS = frozenset(
    {
        "alternative_titles",
        "intangible.communities",
        "museum_object.materials",
        "documentary.scripts",
        "periods",
        "subjects",
        "relations",
        "sources",
    }
)
CSV_COLUMNS = (
    "inventory_number",
    "heritage_class",
    "heritage_type",
    "title.vi",
    "title.en",
    "alternative_titles",
    "description.vi",
    "description.en",
    "rank.level",
    "rank.decision.number",
    "rank.decision.date",
    "rank.decision.issuer.vi",
    "rank.decision.issuer.en",
    "rank.note.vi",
    "rank.note.en",
    "unesco.list",
    "unesco.year",
    "unesco.name.vi",
    "unesco.name.en",
    "unesco.note.vi",
    "unesco.note.en",
    "national_treasure.decision.number",
    "national_treasure.decision.date",
    "national_treasure.decision.issuer.vi",
    "national_treasure.decision.issuer.en",
    "national_treasure.note.vi",
    "national_treasure.note.en",
    "intangible.domain",
    "intangible.communities",
    "intangible.listing",
    "intangible.listing_decision.number",
    "intangible.listing_decision.date",
    "intangible.listing_decision.issuer.vi",
    "intangible.listing_decision.issuer.en",
    "museum_object.holding_institution.vi",
    "museum_object.holding_institution.en",
    "museum_object.accession_number",
    "museum_object.materials",
    "museum_object.dating.vi",
    "museum_object.dating.en",
    "museum_object.period",
    "documentary.extent.vi",
    "documentary.extent.en",
    "documentary.scripts",
    "documentary.custodian.vi",
    "documentary.custodian.en",
    "documentary.period",
    "location.lat",
    "location.lon",
    "location.approximate",
    "address.street.vi",
    "address.street.en",
    "address.commune_pre2025.code",
    "address.commune_pre2025.vi",
    "address.commune_pre2025.en",
    "address.district_pre2025",
    "address.province_pre2025",
    "address.commune_current.code",
    "address.commune_current.vi",
    "address.commune_current.en",
    "address.province_current",
    "periods",
    "subjects",
    "relations",
    "sources",
    "rights.statement",
    "rights.licence",
    "rights.holder.vi",
    "rights.holder.en",
    "notes.vi",
    "notes.en",
)


def unflatten(row: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A CSV row (dotted column names) as a record document; list cells hold JSON arrays."""
    doc: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell == "":
            continue
        value: Any = cell
        if column in LIST_FIELDS:
            try:
                value = json.loads(cell)
            except (ValueError, RecursionError):  # RecursionError: nested past the stack
                errors[column] = ['must be a JSON array, e.g. ["a", "b"]']
                continue
        parts = column.split(".")
        node = doc
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                errors[column] = ["conflicts with another column"]
                break
            node = child
        else:
            node[parts[-1]] = value
    return doc, errors


def flatten(doc: dict[str, Any]) -> dict[str, str]:
    """A record document as a CSV row over ``CSV_COLUMNS`` (the inverse of ``unflatten``)."""
    row: dict[str, str] = {}
    for column in CSV_COLUMNS:
        node: Any = doc
        for part in column.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == []:
            row[column] = ""
        elif column in LIST_FIELDS:
            row[column] = json.dumps(node, ensure_ascii=False)
        elif isinstance(node, bool):
            row[column] = "true" if node else "false"
        else:
            row[column] = str(node)
    return row
