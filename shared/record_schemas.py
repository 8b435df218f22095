"""The record document: what a client sends and gets back, validated with marshmallow.

Every text is a language map ``{"vi": ..., "en": ...}`` (``vi`` required), NFC-normalised.
Text is kept as text: markup is neither stripped nor rendered, only stored and returned as JSON.
Vocabulary codes are checked against the database in the service, not here.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

# the record document's vocabulary (the catalogue's domain decides with it too) ---------------

CLASSES = ("tangible_site", "intangible", "museum_object", "documentary")
STATES = ("draft", "in_review", "published", "withdrawn")
SORTS = ("relevance", "title", "-title", "updated", "-updated", "inventory", "distance")
#: the workflow's actions (who may take each: ``services.catalogue.domain.ACTION_ROLES``)
ACTIONS = frozenset({"submit", "redraft", "reject", "publish", "withdraw"})

# which class-specific blocks each heritage class may carry
CLASS_BLOCKS: dict[str, frozenset[str]] = {
    "tangible_site": frozenset({"rank"}),
    "intangible": frozenset({"intangible"}),
    "museum_object": frozenset({"museum_object", "national_treasure"}),
    "documentary": frozenset({"documentary", "national_treasure"}),
}
ALL_BLOCKS = frozenset().union(*CLASS_BLOCKS.values())
REQUIRED_BLOCKS = {"intangible": "intangible", "museum_object": "museum_object"}


def class_block_errors(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Blocks that do not belong to the record's class, and required ones that are missing."""
    cls = doc.get("heritage_class")
    if cls not in CLASS_BLOCKS:
        return {}
    errors: dict[str, list[str]] = {}
    for block in sorted(ALL_BLOCKS - CLASS_BLOCKS[cls]):
        if doc.get(block) is not None:
            errors[block] = [f"not allowed for heritage class {cls}"]
    needed = REQUIRED_BLOCKS.get(cls)
    if needed and doc.get(needed) is None:
        errors[needed] = [f"required for heritage class {cls}"]
    return errors


LANGUAGES = ("vi", "en")
TITLE_MAX = 500
TEXT_MAX = 2_000
DESCRIPTION_MAX = 50_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,63}$", error="not a vocabulary code")


def clean_text(value: Any, max_length: int) -> str:
    """A string, NFC-normalised, without NUL or other C0 controls except tab and newlines."""
    if not isinstance(value, str):
        raise ValidationError("must be a string")
    text = unicodedata.normalize("NFC", value)
    if _CONTROL.search(text):
        raise ValidationError("contains control characters (such as NUL)")
    if len(text) > max_length:
        raise ValidationError(f"longer than {max_length} characters")
    return text


class LangMap(fields.Field):  # type: ignore[type-arg]
    """``{"vi": text, "en": text}``: ``vi`` required and non-blank, ``en`` optional."""

    def __init__(self, max_length: int = TEXT_MAX, **kwargs: Any) -> None:
        self.max_length = max_length
        metadata = {
            "type": "object",
            "description": f"language map: vi required, en optional; at most {max_length} "
            "characters each; NFC-normalised; markup is kept as plain text",
            "properties": {"vi": {"type": "string"}, "en": {"type": "string"}},
            "required": ["vi"],
        }
        kwargs["metadata"] = metadata | kwargs.get("metadata", {})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValidationError('must be a language map such as {"vi": "...", "en": "..."}')
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValidationError(f"unknown language(s) {unknown}; use vi and en")
        out: dict[str, str] = {}
        for lang in LANGUAGES:
            if value.get(lang) is None:
                continue
            text = clean_text(value[lang], self.max_length).strip()
            if text:
                out[lang] = text
        if "vi" not in out:
            raise ValidationError("the Vietnamese text (vi) is required")
        return out

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class PlaceRef(fields.Field):  # type: ignore[type-arg]
    """A commune from a vocabulary: ``{"code": "ly_hoc"}``, or its name ``{"vi": "xã Lý Học"}``.

    The service resolves the name to the term and stores the code with the term's vi/en
    labels (``{"code", "vi", "en"}``), so readers get names without a vocabulary lookup.
    """

    def __init__(self, scheme: str, **kwargs: Any) -> None:
        self.scheme = scheme
        metadata = {
            "type": "object",
            "description": f"a term of the vocabulary {scheme!r}: its code, or its Vietnamese "
            "name (resolved to the code); stored with the term's vi/en labels",
            "properties": {
                "code": {"type": "string"},
                "vi": {"type": "string"},
                "en": {"type": "string"},
            },
            "example": {"code": "ly_hoc", "vi": "xã Lý Học", "en": "Lý Học commune"},
        }
        kwargs["metadata"] = metadata | kwargs.get("metadata", {})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        if isinstance(value, str):
            value = {"code": value}
        if not isinstance(value, dict):
            raise ValidationError('must be {"code": "..."} or a name such as {"vi": "..."}')
        unknown = sorted(set(value) - {"code", *LANGUAGES})
        if unknown:
            raise ValidationError(f"unknown key(s) {unknown}; use code, vi and en")
        out: dict[str, str] = {}
        if value.get("code") not in (None, ""):
            if not isinstance(value["code"], str):
                raise ValidationError("code must be a string")
            CODE(value["code"])
            out["code"] = value["code"]
        for lang in LANGUAGES:
            if value.get(lang) is not None:
                text = clean_text(value[lang], TEXT_MAX).strip()
                if text:
                    out[lang] = text
        if "code" not in out and "vi" not in out:
            raise ValidationError(f"a {self.scheme} needs its code or its Vietnamese name (vi)")
        return out

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class IsoDate(fields.Date):
    """A calendar date, kept as its ISO 8601 string (what jsonb stores and clients read)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class Code(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=CODE, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


MEMO_LIMIT = 20_000


class Block(fields.Nested):
    """A nested block; under a ``BulkRecordSchema``, identical blocks are validated once.

    Imports repeat the same address, rank, source or holding institution on many rows: the
    outcome of loading a block (its document or its errors) depends on the block alone, so
    it is kept per import, keyed by the block's canonical JSON. Results are shared between
    rows, so callers must not mutate loaded documents (the importer only serialises them).
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, partial: Any = None, **kw: Any) -> Any:
        memo: dict[str, tuple[bool, Any]] | None = getattr(self.root, "memo", None)
        if memo is None:
            return super()._deserialize(value, attr, data, partial=partial, **kw)
        try:
            key = f"{id(self)}:{json.dumps(value, sort_keys=True, ensure_ascii=False)}"
        except (TypeError, ValueError):
            return super()._deserialize(value, attr, data, partial=partial, **kw)
        hit = memo.get(key)
        if hit is None:
            try:
                hit = (True, super()._deserialize(value, attr, data, partial=partial, **kw))
            except ValidationError as exc:
                hit = (False, exc.messages)
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[key] = hit
        ok, result = hit
        if not ok:
            raise ValidationError(result)
        return result


class DecisionSchema(_Strict):
    number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    date = IsoDate(load_default=None, allow_none=True)
    issuer = LangMap(load_default=None, allow_none=True)


class RankSchema(_Strict):
    level = Code(required=True)  # vocabulary "rank"
    decision = fields.Nested(DecisionSchema, load_default=None, allow_none=True)
    note = LangMap(load_default=None, allow_none=True)


class UnescoSchema(_Strict):
    list = Code(required=True)  # vocabulary "unesco_list"
    year = fields.Integer(required=True, validate=validate.Range(min=1972, max=2100))
    name = LangMap(load_default=None, allow_none=True)
    note = LangMap(load_default=None, allow_none=True)


class TreasureSchema(_Strict):
    # a treasure's decision may be unknown: absent means all its parts unknown (as {} did),
    # which is also what a CSV row without decision cells says
    decision = fields.Nested(
        DecisionSchema, load_default=lambda: dict.fromkeys(("number", "date", "issuer"))
    )
    note = LangMap(load_default=None, allow_none=True)


class IntangibleSchema(_Strict):
    domain = Code(required=True)  # vocabulary "intangible_domain"
    communities = fields.List(LangMap(), load_default=list, validate=validate.Length(max=50))
    listing = Code(load_default=None, allow_none=True)  # vocabulary "listing"
    listing_decision = fields.Nested(DecisionSchema, load_default=None, allow_none=True)


class MuseumObjectSchema(_Strict):
    holding_institution = LangMap(required=True)
    accession_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=100)
    )
    materials = fields.List(Code(), load_default=list, validate=validate.Length(max=20))
    dating = LangMap(load_default=None, allow_none=True)
    period = Code(load_default=None, allow_none=True)  # vocabulary "period"


class DocumentarySchema(_Strict):
    extent = LangMap(load_default=None, allow_none=True)
    scripts = fields.List(Code(), load_default=list, validate=validate.Length(max=10))
    custodian = LangMap(load_default=None, allow_none=True)
    period = Code(load_default=None, allow_none=True)


class LocationSchema(_Strict):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    approximate = fields.Boolean(load_default=True)


class AddressSchema(_Strict):
    """Both administrative geographies: before the 2025 reform and now."""

    street = LangMap(load_default=None, allow_none=True)
    commune_pre2025 = PlaceRef("commune_pre2025", load_default=None, allow_none=True)
    district_pre2025 = Code(load_default=None, allow_none=True)  # vocabulary "district"
    province_pre2025 = Code(load_default=None, allow_none=True)  # vocabulary "province"
    commune_current = PlaceRef("commune_current", load_default=None, allow_none=True)
    province_current = Code(load_default=None, allow_none=True)  # vocabulary "province"


class RelationSchema(_Strict):
    type = Code(required=True)  # vocabulary "relation"
    target = fields.UUID(required=True)
    note = LangMap(load_default=None, allow_none=True)

    @post_load
    def as_text(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data | {"target": str(data["target"])}


class SourceSchema(_Strict):
    citation = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"})
    accessed = IsoDate(load_default=None, allow_none=True)


class RightsSchema(_Strict):
    statement = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"})
    licence = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    holder = LangMap(load_default=None, allow_none=True)


class RecordSchema(_Strict):
    """The editable part of a record (create and full replace)."""

    inventory_number = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
            error="1-64 letters, digits and . _ / - (no spaces)",
        ),
        metadata={"example": "HP-DT-0006"},
    )
    heritage_class = fields.String(
        required=True,
        validate=validate.OneOf(CLASSES),
        metadata={"example": "tangible_site"},
    )
    heritage_type = Code(load_default=None, allow_none=True)  # vocabulary "heritage_type"
    title = LangMap(
        required=True,
        max_length=TITLE_MAX,
        metadata={"example": {"vi": "Đền Nghè", "en": "Nghè temple"}},
    )
    alternative_titles = fields.List(
        LangMap(max_length=TITLE_MAX), load_default=list, validate=validate.Length(max=20)
    )
    description = LangMap(load_default=None, allow_none=True, max_length=DESCRIPTION_MAX)
    rank = Block(RankSchema, load_default=None, allow_none=True)
    unesco = Block(UnescoSchema, load_default=None, allow_none=True)
    national_treasure = Block(TreasureSchema, load_default=None, allow_none=True)
    intangible = Block(IntangibleSchema, load_default=None, allow_none=True)
    museum_object = Block(MuseumObjectSchema, load_default=None, allow_none=True)
    documentary = Block(DocumentarySchema, load_default=None, allow_none=True)
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True)
    address = Block(AddressSchema, load_default=None, allow_none=True)
    periods = fields.List(Code(), load_default=list, validate=validate.Length(max=20))
    subjects = fields.List(LangMap(), load_default=list, validate=validate.Length(max=50))
    relations = fields.List(
        Block(RelationSchema), load_default=list, validate=validate.Length(max=100)
    )
    sources = fields.List(Block(SourceSchema), load_default=list, validate=validate.Length(max=100))
    rights = Block(RightsSchema, load_default=None, allow_none=True)
    notes = LangMap(load_default=None, allow_none=True, max_length=TEXT_MAX * 5)

    @validates_schema
    def class_blocks(self, data: dict[str, Any], **_: Any) -> None:
        errors = class_block_errors(data)
        if errors:
            raise ValidationError(errors)


class BulkRecordSchema(RecordSchema):
    """The record schema for imports: identical nested blocks are validated once (``Block``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memo: dict[str, tuple[bool, Any]] = {}


def load_record(payload: Any) -> dict[str, Any]:
    """A validated record document, or ValidationError with every problem by field."""
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["a record is a JSON object"]})
    return RecordSchema().load(payload)  # type: ignore[no-any-return]


class TransitionSchema(_Strict):
    action = fields.String(required=True, validate=validate.OneOf(sorted(ACTIONS)))
    comment = fields.String(load_default="", allow_none=True, validate=validate.Length(max=2000))


class TermSchema(_Strict):
    code = Code(required=True)
    labels = LangMap(required=True, max_length=300)
    broader = Code(load_default=None, allow_none=True)
    note = LangMap(load_default=None, allow_none=True)


class SearchSchema(Schema):
    """Query parameters of the search (unknown ones are ignored, like any web form)."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=200))
    heritage_class = fields.String(
        data_key="class", load_default=None, validate=validate.OneOf(CLASSES)
    )
    rank = Code(load_default=None)
    district = Code(load_default=None)
    commune = Code(load_default=None)
    unesco = fields.Boolean(load_default=None, allow_none=True)
    has_images = fields.Boolean(load_default=None, allow_none=True)
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    bbox = fields.String(load_default=None)
    near = fields.String(load_default=None)
    sort = fields.String(load_default=None, validate=validate.OneOf(SORTS))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
