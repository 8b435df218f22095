"""OpenAPI documentation of the record routes: response schemas and whole-body examples.

The examples are checked by tests against their own schemas (the OpenAPI document's JSON
Schema and the marshmallow schema the route uses), so they cannot drift from the API.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from shared import record_schemas as catalogue_schemas

RECORD_ID = "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11"
SITE_ID = "3f4a1f0e-2c4b-5d2e-8a1b-6c7d8e9f0a12"


class RecordResponse(catalogue_schemas.RecordSchema):
    id = fields.UUID(metadata={"example": RECORD_ID})
    state = fields.String(metadata={"example": "published"})
    version = fields.Integer(metadata={"description": "also sent as the ETag", "example": 3})
    has_images = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    created_by = fields.String(metadata={"description": "staff only"})
    updated_by = fields.String(metadata={"description": "staff only"})
    access = fields.String(metadata={"description": "the access policy level (staff only)"})


class SearchResponse(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "record summaries"})
    facets = fields.Dict(
        metadata={
            "description": "facet -> [{value, count, label: {vi, en}}]",
            "example": {
                "class": [
                    {
                        "value": "tangible_site",
                        "count": 7,
                        "label": {"vi": "Di tích", "en": "Heritage sites"},
                    }
                ],
                "commune": [
                    {
                        "value": "ly_hoc",
                        "count": 1,
                        "label": {"vi": "xã Lý Học", "en": "Lý Học commune"},
                    }
                ],
                "has_images": [
                    {
                        "value": False,
                        "count": 20,
                        "label": {"vi": "Chưa có hình ảnh", "en": "Without images"},
                    }
                ],
            },
        }
    )
    total = fields.Integer()
    next = fields.String(allow_none=True, metadata={"description": "cursor of the next page"})
    sort = fields.String(metadata={"description": "the sort order used"})


class FacetsResponse(Schema):
    facets = fields.Dict(metadata={"description": "facet -> [{value, count, label: {vi, en}}]"})
    total = fields.Integer()


class DeleteResponse(Schema):
    id = fields.UUID()
    deleted = fields.Boolean()


class VersionSummary(Schema):
    version = fields.Integer()
    action = fields.String(metadata={"description": "created, updated, submit, publish, …"})
    state = fields.String()
    comment = fields.String(allow_none=True)
    changed_by = fields.String(metadata={"description": "the subject (user:<id>, key:<id>)"})
    changed_by_name = fields.String(metadata={"description": "the user's name, as staff know it"})
    changed_at = fields.String()


class HistoryResponse(Schema):
    items = fields.List(fields.Nested(VersionSummary), metadata={"description": "newest first"})


class VersionResponse(VersionSummary):
    data = fields.Dict(metadata={"description": "the record document of that version"})


class Change(Schema):
    path = fields.String(metadata={"description": "leaf path, e.g. title.vi"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class DiffResponse(Schema):
    from_ = fields.Integer(data_key="from")
    to = fields.Integer()
    changes = fields.List(fields.Nested(Change))


class ImportReport(Schema):
    format = fields.String(metadata={"example": "csv"})
    dry_run = fields.Boolean()
    rows = fields.Integer()
    valid = fields.Integer()
    invalid_rows = fields.Integer()
    created = fields.Integer()
    errors_truncated = fields.Boolean()
    errors = fields.List(
        fields.Dict(),
        metadata={
            "example": [
                {"row": 3, "field": "title.vi", "reason": "the Vietnamese text is required"}
            ]
        },
    )


class SchemeCount(Schema):
    scheme = fields.String(metadata={"example": "rank"})
    terms = fields.Integer(metadata={"description": "how many terms the vocabulary has"})


class VocabulariesResponse(Schema):
    items = fields.List(fields.Nested(SchemeCount))


class TermResponse(catalogue_schemas.TermSchema):
    added_by = fields.String(
        allow_none=True,
        metadata={
            "description": "who added the term: seed (the seed file), the packages and "
            "versions it was built from, or the administrator"
        },
    )
    replaced_by = fields.String(
        allow_none=True,
        metadata={
            "description": "a pre-2025 commune: the current commune that took it in whole "
            "(null if it was divided)"
        },
    )


class VocabularyResponse(Schema):
    scheme = fields.String()
    terms = fields.List(fields.Nested(TermResponse), metadata={"description": "ordered by code"})


class AddedTermResponse(catalogue_schemas.TermSchema):
    scheme = fields.String()


class RestoreRequest(Schema):
    version = fields.Integer(required=True, metadata={"example": 2})
    comment = fields.String(load_default="", metadata={"example": "undo a wrong edit"})


# examples -------------------------------------------------------------------------------------

RECORD: dict[str, Any] = {
    "inventory_number": "HP-DT-0005",
    "heritage_class": "tangible_site",
    "heritage_type": "historic_site",
    "title": {"vi": "Khu di tích Bạch Đằng Giang", "en": "Bạch Đằng river historic site"},
    "description": {
        "vi": "Nơi diễn ra các trận thủy chiến trên sông Bạch Đằng.",
        "en": "Where the naval battles on the Bạch Đằng river were fought.",
    },
    "rank": {
        "level": "national",
        "decision": {"number": "3229/QĐ-BVHTTDL", "date": "2020-11-04"},
    },
    "location": {"lat": 20.96, "lon": 106.74, "approximate": True},
    "address": {
        "commune_pre2025": {"code": "minh_duc"},
        "district_pre2025": "thuy_nguyen",
        "province_pre2025": "hai_phong",
        "province_current": "hai_phong",
    },
    "relations": [{"type": "held_at", "target": SITE_ID}],
    "sources": [
        {
            "citation": "Quyết định 3229/QĐ-BVHTTDL ngày 4/11/2020",
            "url": "https://vanban.chinhphu.vn/",
        }
    ],
}

_STORED: dict[str, Any] = {
    k: v for k, v in RECORD.items() if k not in ("address", "rank", "sources", "relations")
} | {
    "rank": {
        "level": "national",
        "decision": {"number": "3229/QĐ-BVHTTDL", "date": "2020-11-04", "issuer": None},
        "note": None,
    },
    "address": {
        "street": None,
        "commune_pre2025": {"code": "minh_duc", "vi": "xã Minh Đức", "en": "Minh Đức commune"},
        "district_pre2025": "thuy_nguyen",
        "province_pre2025": "hai_phong",
        "commune_current": None,
        "province_current": "hai_phong",
    },
    "relations": [{"type": "held_at", "target": SITE_ID, "note": None}],
    "sources": [dict(RECORD["sources"][0], accessed=None)],
    "alternative_titles": [],
    "periods": [],
    "subjects": [],
}

RECORD_RESPONSE: dict[str, Any] = _STORED | {
    "id": RECORD_ID,
    "state": "draft",
    "version": 1,
    "has_images": False,
    "created_at": "2026-11-27T08:00:00+00:00",
    "updated_at": "2026-11-27T08:00:00+00:00",
    "created_by": "user:7",
    "updated_by": "user:7",
    "access": "public",
}

SUMMARY = {
    "id": RECORD_ID,
    "inventory_number": "HP-DT-0005",
    "heritage_class": "tangible_site",
    "heritage_type": "historic_site",
    "title": RECORD["title"],
    "rank": "national",
    "unesco": None,
    "location": RECORD["location"],
    "district": "thuy_nguyen",
    "has_images": True,
    "updated_at": "2026-11-27T08:00:00+00:00",
}
FACETS = {
    "class": [
        {"value": "tangible_site", "count": 1, "label": {"vi": "Di tích", "en": "Heritage sites"}}
    ],
    "rank": [
        {
            "value": "national",
            "count": 1,
            "label": {"vi": "Di tích quốc gia", "en": "National relic"},
        }
    ],
    "district": [
        {"value": "thuy_nguyen", "count": 1, "label": {"vi": "Thủy Nguyên", "en": "Thủy Nguyên"}}
    ],
    "commune": [
        {
            "value": "minh_duc",
            "count": 1,
            "label": {"vi": "xã Minh Đức", "en": "Minh Đức commune"},
        }
    ],
    "unesco": [
        {
            "value": False,
            "count": 1,
            "label": {"vi": "Chưa được UNESCO ghi danh", "en": "Not inscribed by UNESCO"},
        }
    ],
    "has_images": [
        {"value": True, "count": 1, "label": {"vi": "Có hình ảnh", "en": "With images"}}
    ],
}
HISTORY_ITEM = {
    "version": 2,
    "action": "submit",
    "state": "in_review",
    "comment": "ready for review",
    "changed_by": "user:7",
    "changed_by_name": "lan.nguyen",
    "changed_at": "2026-11-27T08:05:00+00:00",
}
CSV_BODY = (
    "inventory_number,heritage_class,title.vi,title.en,rank.level,"
    "address.commune_pre2025.code,address.district_pre2025\n"
    "HP-DT-0105,tangible_site,Đình Hàng Kênh,Hàng Kênh communal house,national,,le_chan\n"
)
IMPORTED = {
    "format": "csv",
    "dry_run": False,
    "rows": 1,
    "valid": 1,
    "invalid_rows": 0,
    "created": 1,
    "errors": [],
    "errors_truncated": False,
}

# route method name -> "request" / "response" examples; "request_type" / "response_type" for
# bodies that are not JSON (their schema is then a string)
EXAMPLES: dict[str, dict[str, Any]] = {
    "search_records": {
        "response": {
            "items": [SUMMARY],
            "facets": FACETS,
            "total": 1,
            "next": None,
            "sort": "relevance",
        }
    },
    "record_facets": {"response": {"facets": FACETS, "total": 1}},
    "create_record": {"request": RECORD, "response": RECORD_RESPONSE},
    "get_record": {"response": RECORD_RESPONSE | {"state": "published", "version": 3}},
    "update_record": {
        "request": RECORD | {"notes": {"vi": "Đã bổ sung nguồn.", "en": "Source added."}},
        "response": RECORD_RESPONSE
        | {"version": 2, "notes": {"vi": "Đã bổ sung nguồn.", "en": "Source added."}},
    },
    "delete_record": {"response": {"id": RECORD_ID, "deleted": True}},
    "transition_record": {
        "request": {"action": "submit", "comment": "ready for review"},
        "response": RECORD_RESPONSE | {"state": "in_review", "version": 2},
    },
    "record_history": {
        "response": {
            "items": [
                HISTORY_ITEM,
                HISTORY_ITEM
                | {"version": 1, "action": "created", "state": "draft", "comment": None},
            ]
        }
    },
    "record_version": {"response": HISTORY_ITEM | {"data": _STORED}},
    "record_diff": {
        "response": {
            "from": 1,
            "to": 2,
            "changes": [{"path": "state", "before": "draft", "after": "in_review"}],
        }
    },
    "restore_record": {
        "request": {"version": 1, "comment": "undo a wrong edit"},
        "response": RECORD_RESPONSE | {"version": 4},
    },
    "import_records": {"request": CSV_BODY, "request_type": "text/csv", "response": IMPORTED},
    "export_records": {
        "response": "id," + CSV_BODY.replace("\nHP-DT", f"\n{RECORD_ID},HP-DT"),
        "response_type": "text/csv",
    },
    "list_vocabularies": {
        "response": {
            "items": [
                {"scheme": "commune_current", "terms": 2},
                {"scheme": "commune_pre2025", "terms": 31},
                {"scheme": "rank", "terms": 4},
            ]
        }
    },
    "get_vocabulary": {
        "response": {
            "scheme": "rank",
            "terms": [
                {
                    "code": "city",
                    "labels": {"vi": "Di tích cấp thành phố", "en": "City-level relic"},
                    "broader": None,
                    "note": None,
                    "added_by": None,
                },
                {
                    "code": "special_national",
                    "labels": {"vi": "Di tích quốc gia đặc biệt", "en": "Special national relic"},
                    "broader": None,
                    "note": {
                        "vi": "Do Thủ tướng Chính phủ xếp hạng.",
                        "en": "Ranked by the Prime Minister.",
                    },
                    "added_by": None,
                },
            ],
        }
    },
    "add_term": {
        "request": {
            "code": "hop_thanh",
            "labels": {"vi": "Xã Hợp Thành", "en": "Hợp Thành commune"},
            "broader": "thuy_nguyen",
            "note": {"vi": "Tên trước ngày 1/7/2025.", "en": "Name before 1 July 2025."},
        },
        "response": {
            "scheme": "commune_pre2025",
            "code": "hop_thanh",
            "labels": {"vi": "Xã Hợp Thành", "en": "Hợp Thành commune"},
            "broader": "thuy_nguyen",
            "note": {"vi": "Tên trước ngày 1/7/2025.", "en": "Name before 1 July 2025."},
        },
    },
}
