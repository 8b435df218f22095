"""Annotation (W3C Web Annotation Protocol) and Content Search 2.0 routes of the gateway.

A mixin of ``GatewayService``. Containers are per record and per canvas; their pages are IIIF
``AnnotationPage`` documents. Reads follow the record's access policy (``gate.require_item``) and
the annotations' own visibility (decided by the iiif service); writes need a signed-in
researcher or staff member, and edits the ETag read in ``If-Match`` (412 stale, 428 missing).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from services.gateway.http import JSON, PUBLIC, SIGNED_IN, api, json_response, read_json
from shared.errors import NotFound, PreconditionFailed, PreconditionRequired
from shared.rpc_client import ServiceClient, ServiceRpc

RPC_TIMEOUT = 30.0
ANNO = "http://www.w3.org/ns/anno.jsonld"
ANNO_TYPE = f'application/ld+json; profile="{ANNO}"'
SEARCH_TYPE = 'application/ld+json; profile="http://iiif.io/api/search/2/context.json"'
BODY_TYPES = ("application/ld+json", JSON)
MAX_ANNOTATION_BYTES = 64_000
MAX_TRANSCRIPTION_BYTES = 1_000_000
WRITERS = ("researcher", "cataloguer", "reviewer")
RECORD = "/iiif/annotations/3/records/<record_id>"
CANVAS = RECORD + "/canvases/<canvas>"
ONE = "/iiif/annotations/3/<annotation_id>"
SEARCH = "/iiif/search/2/records/<record_id>"
_ETAG = re.compile(r'^\s*"(\d{1,9})"\s*$')
CONSTRAINED = (
    '<http://www.w3.org/TR/annotation-protocol/>; rel="http://www.w3.org/ns/ldp#constrainedBy"'
)
COMMON = {"X-Content-Type-Options": "nosniff", "Vary": "Accept, Authorization"}
# on every answer of these routes, errors included: a viewer on a museum's site reads them
CORS = {"Access-Control-Allow-Origin": "*"}
CONTAINER_HEADERS = COMMON | {
    "Link": f'<http://www.w3.org/ns/ldp#BasicContainer>; rel="type", {CONSTRAINED}',
    "Allow": "GET, POST, HEAD",
    "Accept-Post": ANNO_TYPE,
    "Access-Control-Allow-Origin": "*",
}
RESOURCE_HEADERS = COMMON | {
    "Link": '<http://www.w3.org/ns/ldp#Resource>; rel="type"',
    "Allow": "GET, PUT, DELETE, HEAD",
    "Access-Control-Allow-Origin": "*",
}
WRITE_ERRORS = {
    400: "malformed JSON",
    401: "not signed in",
    403: "not a researcher, not the author, or not in the group",
    404: "no such published record, canvas or annotation",
    413: "body larger than 64 KB",
    415: "not JSON-LD",
    422: "invalid annotation: motivation, body, target on another manifest, xywh outside, "
    "forged creator",
}


def _actor(request: Request) -> dict[str, Any]:
    return request.principal.to_dict()  # type: ignore[attr-defined, no-any-return]


def _record_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no record {value[:64]!r}") from None


def _expected(request: Request) -> int:
    """The version in ``If-Match``: 428 without it, 412 when it names no version we issued."""
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired(
            "send If-Match with the ETag of the annotation you read (GET it first)"
        )
    match = _ETAG.match(header)
    if match is None:
        raise PreconditionFailed("If-Match does not match the annotation's ETag")
    return int(match.group(1))


def _ld(payload: Any, status: int, headers: dict[str, str], content_type: str) -> Response:
    return json_response(payload, status, headers, content_type=content_type)


def _document(request: Request, answer: dict[str, Any], headers: dict[str, str]) -> Response:
    """A stored JSON document with its ETag; 304 when the client has it already."""
    personal = {"Cache-Control": "private, no-cache"} if answer["personal"] else {}
    out = headers | personal | {"ETag": answer["etag"]}
    if answer["etag"] in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
        response.headers.update(out)
        return response
    response = Response(answer["body"], status=200, content_type=ANNO_TYPE)
    response.headers.update(out)
    return response


class AnnotationRoutes:
    """``/iiif/annotations/3/…``, ``/iiif/search/2/…`` and ``/api/v1/annotation-groups…``."""

    iiif_annotations: ServiceClient = ServiceRpc("iiif", "iiif service", RPC_TIMEOUT)
    gate: Any

    # containers ------------------------------------------------------------------------------
    def _container(self, request: Request, record_id: str, canvas: str | None) -> Response:
        rid = _record_id(record_id)
        answer = self.iiif_annotations.call(
            "get_annotations", _actor(request), rid, canvas, request.args.get("page")
        )
        self.gate.require_item(request, "record", rid)
        return _document(request, answer, CONTAINER_HEADERS)

    def _create(self, request: Request, record_id: str, canvas: str | None) -> Response:
        rid = _record_id(record_id)
        self.gate.require_item(request, "record", rid)
        doc = read_json(request, max_bytes=MAX_ANNOTATION_BYTES, media_types=BODY_TYPES)
        answer = self.iiif_annotations.call("create_annotation", _actor(request), rid, canvas, doc)
        location = answer["annotation"]["id"]
        headers = RESOURCE_HEADERS | {"ETag": answer["etag"], "Location": location}
        return _ld(answer["annotation"], 201, headers, ANNO_TYPE)

    @api(
        "GET",
        RECORD,
        summary=(
            "A record's annotation container (AnnotationCollection), or ?page=N of it "
            "(AnnotationPage): public annotations, plus the caller's own and their groups'"
        ),
        tags=("annotations",),
        headers=CORS,
        roles=(PUBLIC,),
        responses={304: "not modified", 401: "restricted record", 404: "no such page"},
    )
    def annotation_container(self, request: Request, record_id: str) -> Any:
        return self._container(request, record_id, None)

    @api(
        "POST",
        RECORD,
        summary="Annotate a canvas of this record (W3C Annotation, JSON-LD); 201 with Location",
        tags=("annotations",),
        headers=CORS,
        roles=WRITERS,
        responses=WRITE_ERRORS,
    )
    def create_record_annotation(self, request: Request, record_id: str) -> Any:
        return self._create(request, record_id, None)

    @api(
        "GET",
        CANVAS,
        summary="One canvas's annotation container, or ?page=N of it (as listed in manifests)",
        tags=("annotations",),
        headers=CORS,
        roles=(PUBLIC,),
        responses={304: "not modified", 401: "restricted record", 404: "no such canvas/page"},
    )
    def canvas_annotation_container(self, request: Request, record_id: str, canvas: str) -> Any:
        return self._container(request, record_id, canvas)

    @api(
        "POST",
        CANVAS,
        summary="Annotate this canvas (the target must be it, xywh inside it)",
        tags=("annotations",),
        headers=CORS,
        roles=WRITERS,
        responses=WRITE_ERRORS,
    )
    def create_canvas_annotation(self, request: Request, record_id: str, canvas: str) -> Any:
        return self._create(request, record_id, canvas)

    @api(
        "POST",
        CANVAS + "/transcription",
        summary=(
            "A line-by-line transcription (e.g. Hán-Nôm): {language, visibility, group, lines: "
            "[{xywh, text, reading}]} → one transcribing annotation per line, all or none"
        ),
        tags=("annotations",),
        headers=CORS,
        roles=WRITERS,
        responses=WRITE_ERRORS | {413: "body larger than 1 MB"},
    )
    def create_transcription(self, request: Request, record_id: str, canvas: str) -> Any:
        rid = _record_id(record_id)
        self.gate.require_item(request, "record", rid)
        doc = read_json(request, max_bytes=MAX_TRANSCRIPTION_BYTES, media_types=BODY_TYPES)
        answer = self.iiif_annotations.call(
            "create_transcription", _actor(request), rid, canvas, doc
        )
        return _ld(answer, 201, COMMON, ANNO_TYPE)

    # one annotation --------------------------------------------------------------------------
    @api(
        "GET",
        ONE,
        summary="One annotation (public, or the caller's, or their group's)",
        tags=("annotations",),
        headers=CORS,
        roles=(PUBLIC,),
        responses={304: "not modified", 404: "no such annotation"},
    )
    def get_annotation(self, request: Request, annotation_id: str) -> Any:
        answer = self.iiif_annotations.call("get_annotation", _actor(request), annotation_id)
        self.gate.require_item(request, "record", answer["record_id"])
        headers = RESOURCE_HEADERS | {"ETag": answer["etag"]}
        if answer["annotation"]["visibility"] != "public":
            headers["Cache-Control"] = "private, no-cache"
        if answer["etag"] in request.headers.get("If-None-Match", ""):
            response = Response(status=304)
            response.headers.update(headers)
            return response
        return _ld(answer["annotation"], 200, headers, ANNO_TYPE)

    @api(
        "PUT",
        ONE,
        summary="Replace an annotation (its author or an administrator); needs If-Match",
        tags=("annotations",),
        headers=CORS,
        roles=WRITERS,
        responses=WRITE_ERRORS | {412: "changed since read", 428: "If-Match missing"},
    )
    def update_annotation(self, request: Request, annotation_id: str) -> Any:
        expected = _expected(request)
        doc = read_json(request, max_bytes=MAX_ANNOTATION_BYTES, media_types=BODY_TYPES)
        answer = self.iiif_annotations.call(
            "update_annotation", _actor(request), annotation_id, doc, expected
        )
        return _ld(
            answer["annotation"], 200, RESOURCE_HEADERS | {"ETag": answer["etag"]}, ANNO_TYPE
        )

    @api(
        "DELETE",
        ONE,
        summary="Delete an annotation (its author or an administrator); needs If-Match",
        tags=("annotations",),
        headers=CORS,
        roles=WRITERS,
        responses={
            403: "not the author",
            404: "no such annotation",
            412: "changed since read",
            428: "If-Match missing",
        },
    )
    def delete_annotation(self, request: Request, annotation_id: str) -> Any:
        expected = _expected(request)
        self.iiif_annotations.call("delete_annotation", _actor(request), annotation_id, expected)
        response = Response(status=204)
        response.headers.update(COMMON)
        return response

    # Content Search 2.0 ----------------------------------------------------------------------
    @api(
        "GET",
        SEARCH,
        summary=(
            "Content Search 2.0 within a record's manifest: ?q= (diacritics and case ignored), "
            "motivation, page; annotations the caller may read and the record's metadata"
        ),
        tags=("annotations", "iiif"),
        headers=CORS,
        roles=(PUBLIC,),
        responses={400: "no q, q longer than 500 characters, bad motivation or page"},
    )
    def search_manifest(self, request: Request, record_id: str) -> Any:
        return self._search(request, record_id, "search_manifest")

    @api(
        "GET",
        SEARCH + "/autocomplete",
        summary="AutoComplete 2.0: words of annotations and metadata starting like ?q=",
        tags=("annotations", "iiif"),
        headers=CORS,
        roles=(PUBLIC,),
        responses={400: "no q or q longer than 500 characters"},
    )
    def autocomplete_manifest(self, request: Request, record_id: str) -> Any:
        return self._search(request, record_id, "autocomplete_manifest")

    def _search(self, request: Request, record_id: str, method: str) -> Response:
        rid = _record_id(record_id)
        params = {k: request.args.get(k) for k in request.args}
        answer = self.iiif_annotations.call(method, _actor(request), rid, params)
        self.gate.require_item(request, "record", rid)
        headers = COMMON | {"Access-Control-Allow-Origin": "*"}
        return _ld(answer, 200, headers, SEARCH_TYPE)

    # research groups -------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/annotation-groups",
        summary="Research groups: all of them for administrators, one's own otherwise",
        tags=("annotations",),
        headers=CORS,
        roles=SIGNED_IN,
    )
    def list_annotation_groups(self, request: Request) -> Any:
        return {"items": self.iiif_annotations.call("list_annotation_groups", _actor(request))}

    @api(
        "PUT",
        "/api/v1/annotation-groups/<name>",
        summary=(
            "Create or replace a research group: {label: {vi, en}, members: [user ids]}; "
            "group-visible annotations are read by its members (administrators)"
        ),
        tags=("annotations",),
        headers=CORS,
        roles=("admin",),
        responses={422: "bad name, label or members"},
    )
    def put_annotation_group(self, request: Request, name: str) -> Any:
        body = read_json(request, max_bytes=100_000)
        return self.iiif_annotations.call("put_annotation_group", _actor(request), name, body)
