"""The catalogue's HTTP routes: records, workflow, history, search, import/export, vocabularies.

A mixin of ``GatewayService``: every route goes through ``api`` (authentication, role check) and
calls the catalogue by RPC with the caller's principal. Reading one record also asks the access
gate for the record's policy, exactly as other item routes do. Edits carry the version read
(``ETag``) back in ``If-Match``: a stale one is 412, a missing one 428.
"""

from __future__ import annotations

import re
from typing import Any, overload

from werkzeug.wrappers import Request, Response

from services.gateway.http import (
    PUBLIC,
    STAFF,
    ApiRequest,
    api,
    error_response,
    json_response,
    read_json,
)
from services.gateway.record_docs import (
    EXAMPLES,
    AddedTermResponse,
    DeleteResponse,
    DiffResponse,
    FacetsResponse,
    HistoryResponse,
    ImportReport,
    RecordResponse,
    RestoreRequest,
    SearchResponse,
    VersionResponse,
    VocabulariesResponse,
    VocabularyResponse,
)
from shared import record_files as importer
from shared import record_schemas as catalogue_schemas
from shared.errors import BadRequest, PayloadTooLarge, PreconditionRequired
from shared.packed_errors import unpack
from shared.rpc_client import ServiceClient, ServiceRpc

RPC_TIMEOUT = 30.0
IMPORT_TIMEOUT = 600.0
MAX_RECORD_BYTES = 1_000_000
MAX_IMPORT_BYTES = 50_000_000
EDITORS = ("cataloguer",)
ID = "<record_id>"
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')
TEXT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
SAFE = {"X-Content-Type-Options": "nosniff"}


def etag(record: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'} | SAFE


@overload
def if_match(request: Request) -> int: ...
@overload
def if_match(request: Request, required: bool) -> int | None: ...
def if_match(request: Request, required: bool = True) -> int | None:
    """The version from ``If-Match``; 428 (PreconditionRequired) when required and missing."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired(
                "send If-Match with the ETag of the version you edited (GET the record first)"
            )
        return None
    match = _ETAG.match(header)
    if match is None:
        raise BadRequest('If-Match must be one ETag as sent by GET, e.g. "3"')
    return int(match.group(1))


def _actor(request: ApiRequest) -> dict[str, Any]:
    return request.principal.to_dict()  # type: ignore[no-any-return]


class RecordRoutes:
    """Every ``/api/v1/records…`` and ``/api/v1/vocabularies…`` route."""

    catalogue: ServiceClient = ServiceRpc("catalogue", "catalogue", RPC_TIMEOUT, unpack)
    gate: Any
    openapi_examples = EXAMPLES  # whole request and response bodies (services/gateway/openapi.py)

    # search ---------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/records",
        summary=(
            "Search records: ?q= (diacritics and case ignored), class, rank, district, commune, "
            "unesco, "
            "has_images, state (staff), bbox=s,w,n,e, near=lat,lon,km, sort, limit, cursor"
        ),
        tags=("records",),
        roles=(PUBLIC,),
        response_schema=SearchResponse,
        responses={400: "invalid cursor", 422: "invalid parameter"},
    )
    def search_records(self, request: ApiRequest) -> Any:
        params = request.args.to_dict()
        return self.catalogue.call("search_records", _actor(request), params)

    @api(
        "GET",
        "/api/v1/records/facets",
        summary="Facet counts (class, rank, district, commune, UNESCO, has images) for a search",
        response_schema=FacetsResponse,
        tags=("records",),
        roles=(PUBLIC,),
    )
    def record_facets(self, request: ApiRequest) -> Any:
        params = request.args.to_dict() | {"limit": "1"}
        params.pop("cursor", None)
        result = self.catalogue.call("search_records", _actor(request), params)
        return {"facets": result["facets"], "total": result["total"]}

    # one record -----------------------------------------------------------------------------
    @api(
        "POST",
        "/api/v1/records",
        summary="Create a record (a draft); every text is a language map with vi required",
        ok_status=201,
        tags=("records",),
        roles=EDITORS,
        request_schema=catalogue_schemas.RecordSchema,
        response_schema=RecordResponse,
        responses={
            409: "inventory number already used",
            413: "body larger than 1 MB",
            415: "not JSON",
            422: "invalid record (per field)",
        },
    )
    def create_record(self, request: ApiRequest) -> Any:
        body = read_json(request, max_bytes=MAX_RECORD_BYTES)
        record = self.catalogue.call("create_record", _actor(request), body)
        headers = etag(record) | {"Location": f"/api/v1/records/{record['id']}"}
        return 201, headers, record

    @api(
        "GET",
        f"/api/v1/records/{ID}",
        summary="One record (published ones for the public, as its access policy allows)",
        tags=("records",),
        roles=(PUBLIC,),
        response_schema=RecordResponse,
        responses={404: "no such record"},
    )
    def get_record(self, request: ApiRequest, record_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        self.gate.require_item(request, "record", record["id"])
        return 200, etag(record), record

    @api(
        "PUT",
        f"/api/v1/records/{ID}",
        summary="Replace a record's content; needs If-Match with the ETag read",
        tags=("records",),
        roles=EDITORS,
        request_schema=catalogue_schemas.RecordSchema,
        response_schema=RecordResponse,
        responses={
            404: "no such record",
            409: "inventory number already used",
            412: "the record changed since it was read",
            413: "body larger than 1 MB",
            422: "invalid record (per field)",
            428: "If-Match missing",
        },
    )
    def update_record(self, request: ApiRequest, record_id: str) -> Any:
        expected = if_match(request)
        body = read_json(request, max_bytes=MAX_RECORD_BYTES)
        record = self.catalogue.call("update_record", _actor(request), record_id, body, expected)
        return 200, etag(record), record

    @api(
        "DELETE",
        f"/api/v1/records/{ID}",
        summary="Delete a draft or withdrawn record (administrators; history is kept)",
        response_schema=DeleteResponse,
        tags=("records",),
        roles=("admin",),
        responses={404: "no such record", 409: "published", 412: "changed", 428: "no If-Match"},
    )
    def delete_record(self, request: ApiRequest, record_id: str) -> Any:
        expected = if_match(request)
        return self.catalogue.call("delete_record", _actor(request), record_id, expected)

    @api(
        "POST",
        f"/api/v1/records/{ID}/transitions",
        summary=(
            "Move a record through the workflow: submit, reject, publish, withdraw, redraft "
            "(comment optional, required to reject or withdraw; If-Match optional)"
        ),
        tags=("records",),
        roles=("cataloguer", "reviewer"),
        request_schema=catalogue_schemas.TransitionSchema,
        response_schema=RecordResponse,
        responses={
            404: "no such record",
            409: "not possible from the current state",
            412: "the record changed since it was read",
            422: "unknown action, or no comment to reject or withdraw",
        },
    )
    def transition_record(self, request: ApiRequest, record_id: str) -> Any:
        expected = if_match(request, False)
        body = read_json(request, max_bytes=10_000)
        if not isinstance(body, dict):
            raise BadRequest('send {"action": ..., "comment": ...}')
        record = self.catalogue.call(
            "transition_record",
            _actor(request),
            record_id,
            body.get("action"),
            body.get("comment"),
            expected,
        )
        return 200, etag(record), record

    # history --------------------------------------------------------------------------------
    @api(
        "GET",
        f"/api/v1/records/{ID}/history",
        summary="Every version of a record: who, when, what action, comment",
        response_schema=HistoryResponse,
        tags=("records",),
        roles=STAFF,
        responses={404: "no such record"},
    )
    def record_history(self, request: ApiRequest, record_id: str) -> Any:
        return {"items": self.catalogue.call("record_history", _actor(request), record_id)}

    @api(
        "GET",
        f"/api/v1/records/{ID}/versions/<version>",
        summary="One old version of a record, in full",
        response_schema=VersionResponse,
        tags=("records",),
        roles=STAFF,
        responses={404: "no such version"},
    )
    def record_version(self, request: ApiRequest, record_id: str, version: str) -> Any:
        return self.catalogue.call("record_version", _actor(request), record_id, version)

    @api(
        "GET",
        f"/api/v1/records/{ID}/diff",
        summary=(
            "What changed between two versions (?from=&to=), field by field; to defaults to "
            "the current version, from to the one before to"
        ),
        response_schema=DiffResponse,
        tags=("records",),
        roles=STAFF,
        responses={404: "no such version", 422: "from or to is not a version number"},
    )
    def record_diff(self, request: ApiRequest, record_id: str) -> Any:
        old, new = request.args.get("from"), request.args.get("to")
        return self.catalogue.call("record_diff", _actor(request), record_id, old, new)

    @api(
        "POST",
        f"/api/v1/records/{ID}/restore",
        summary="Restore an old version's content as a new version; needs If-Match",
        tags=("records",),
        roles=EDITORS,
        request_schema=RestoreRequest,
        response_schema=RecordResponse,
        responses={404: "no such version", 412: "changed", 428: "no If-Match"},
    )
    def restore_record(self, request: ApiRequest, record_id: str) -> Any:
        expected = if_match(request)
        body = read_json(request, RestoreRequest(), max_bytes=10_000)
        record = self.catalogue.call(
            "restore_record",
            _actor(request),
            record_id,
            body["version"],
            expected,
            body["comment"],
        )
        return 200, etag(record), record

    # import and export ----------------------------------------------------------------------
    @api(
        "POST",
        "/api/v1/records/import",
        summary=(
            "Bulk import (text/csv or application/x-ndjson body, ?dry_run=true for a per-row "
            "report only); all rows or none"
        ),
        tags=("records",),
        roles=EDITORS,
        response_schema=ImportReport,
        responses={
            400: "not UTF-8, malformed CSV or unknown column",
            413: "larger than 50 MB",
            415: "not CSV or JSON Lines",
            422: "some rows are invalid: the report lists row, field, reason",
        },
    )
    def import_records(self, request: ApiRequest) -> Any:
        fmt = request.args.get("format") or {
            "text/csv": "csv",
            "application/x-ndjson": "jsonl",
            "application/jsonl": "jsonl",
        }.get(request.mimetype)
        if fmt not in importer.FORMATS:
            return error_response(
                415, "unsupported_media_type", "send text/csv or application/x-ndjson"
            )
        if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"an import is at most {MAX_IMPORT_BYTES} bytes")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"an import is at most {MAX_IMPORT_BYTES} bytes")
        dry_run = request.args.get("dry_run", "false").lower() in ("1", "true", "yes")
        report = self.catalogue.call(
            "import_records",
            _actor(request),
            importer.decode(raw),
            fmt,
            dry_run,
            timeout=IMPORT_TIMEOUT,
        )
        return (200 if dry_run else 201), report

    @api(
        "GET",
        "/api/v1/records/export",
        summary="Export every record as CSV or JSON Lines (?format=csv|jsonl&state=)",
        tags=("records",),
        roles=STAFF,
    )
    def export_records(self, request: ApiRequest) -> Any:
        fmt = request.args.get("format", "jsonl")
        if fmt not in importer.FORMATS:
            raise BadRequest("format is csv or jsonl")
        text = self.catalogue.call(
            "export_records",
            _actor(request),
            fmt,
            request.args.get("state"),
            timeout=IMPORT_TIMEOUT,
        )
        response = Response(text, status=200, content_type=f"{TEXT_TYPES[fmt]}; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="records.{fmt}"'
        response.headers.update(SAFE)
        return response

    # vocabularies ---------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/vocabularies",
        summary="The controlled vocabularies and how many terms each has",
        tags=("vocabularies",),
        roles=(PUBLIC,),
        response_schema=VocabulariesResponse,
    )
    def list_vocabularies(self, request: ApiRequest) -> Any:
        return {"items": self.catalogue.call("list_vocabularies")}

    @api(
        "GET",
        "/api/v1/vocabularies/<scheme>",
        summary="The terms of one vocabulary with vi/en labels",
        tags=("vocabularies",),
        roles=(PUBLIC,),
        response_schema=VocabularyResponse,
        responses={404: "no such vocabulary"},
    )
    def get_vocabulary(self, request: ApiRequest, scheme: str) -> Any:
        return json_response(self.catalogue.call("get_vocabulary", scheme))

    @api(
        "POST",
        "/api/v1/vocabularies/<scheme>/terms",
        summary="Add a term to a vocabulary (administrators)",
        tags=("vocabularies",),
        roles=("admin",),
        request_schema=catalogue_schemas.TermSchema,
        response_schema=AddedTermResponse,
        ok_status=201,
        responses={404: "no such vocabulary", 409: "code exists", 422: "invalid term"},
    )
    def add_term(self, request: ApiRequest, scheme: str) -> Any:
        body = read_json(request, max_bytes=10_000)
        return 201, self.catalogue.call("add_term", _actor(request), scheme, body)
