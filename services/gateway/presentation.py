"""IIIF Presentation 3.0 and Change Discovery 1.0 routes (documents built by the iiif service).

A mixin of ``GatewayService``. Manifests, collections and activity pages are stored built by
the iiif service; the gateway asks for them by RPC and answers with the IIIF media type, a
strong ``ETag`` (``If-None-Match`` → 304) and CORS ``*`` on every answer, errors and
preflights included. A manifest is read under the record's access policy exactly as
``GET /api/v1/records/{id}`` is (ADR 0040): not published → 404, restricted and anonymous → 401,
signed in without the right → 403 (ADR 0060); both refusals carry the record's Auth 2.0 probe
service in ``error.details.service``, so a viewer can start the login (ADR 0035).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from iiif import discovery
from iiif.auth import probe_service
from services.gateway.http import api
from shared import iiif_surface as iiif_domain
from shared.errors import DisanError, Forbidden, NotFound, Unauthorized
from shared.rpc_client import ServiceClient, ServiceRpc

PRESENTATION_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
DISCOVERY_TYPE = discovery.MEDIA_TYPE  # Change Discovery 1.0 section 4.1
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, X-API-Key, If-None-Match, Accept",
    "Access-Control-Expose-Headers": "ETag, Content-Type",
    "Access-Control-Max-Age": "86400",
}
TAGS = ("iiif",)
MANIFEST = "/iiif/presentation/3/records/<record_id>/manifest"
COLLECTION = "/iiif/presentation/3/collections/<name>"
COLLECTION_PAGE = "/iiif/presentation/3/collections/<name>/page/<int:page>"
CHANGES = "/iiif/discovery/1/all-changes"
CHANGES_PAGE = "/iiif/discovery/1/all-changes/page/<int:page>"
ELSEWHERE = ("/iiif/presentation/3/<path:rest>", "/iiif/discovery/1/<path:rest>")
CONTENT = "/iiif/content/<asset_id>/<path:name>"
CONTENT_NAMES = re.compile(
    r"^(original\.[a-z0-9]{1,8}|pages/\d{5}\.jpg|thumbnail\.jpg|poster\.jpg)$"
)
CONTENT_EXPIRES = timedelta(minutes=15)
PUBLIC_CACHE = "public, max-age=30"
PRIVATE_CACHE = "private, no-cache"


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def iiif_document(
    request: Request, found: dict[str, Any], content_type: str, cache: str = PUBLIC_CACHE
) -> Response:
    """A stored IIIF document as it was built: its bytes, ETag, media type; 304 when unchanged."""
    headers = {"ETag": found["etag"], "Cache-Control": cache, "Vary": "Authorization, X-API-Key"}
    if _matches(request, found["etag"]):
        response = Response(status=304)
    else:
        body = found["body"].encode("utf-8")
        response = Response(body if request.method != "HEAD" else b"", status=200)
        response.headers["Content-Type"] = content_type
        response.headers["Content-Length"] = str(len(body))
    for key, value in headers.items():
        response.headers[key] = value
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _is_uuid(value: str) -> bool:
    return bool(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value)
    )


def with_probe(exc: Unauthorized | Forbidden, base: str, record_id: str) -> DisanError:
    """The refusal of a restricted record's manifest, carrying the record's Auth 2.0 probe
    service (with the access and token services in it) in ``details.service``, so a viewer
    refused the manifest can still start the login (ADR 0035)."""
    details = dict(exc.details) if isinstance(exc.details, dict) else {}
    details["service"] = [probe_service(base, record_id, "record")]
    return type(exc)(exc.message, details)


def preflight() -> Response:
    return Response(status=204)


class PresentationRoutes:
    """``/iiif/presentation/3/…`` manifests and collections, ``/iiif/discovery/1/…`` changes."""

    iiif: ServiceClient = ServiceRpc("iiif", "IIIF service", timeout=10.0)
    gate: Any
    settings: Any
    media: ServiceClient  # MediaRoutes

    @api(
        "GET",
        MANIFEST,
        summary="IIIF Presentation 3.0 manifest of a published record",
        tags=TAGS,
        headers=CORS,
        responses={
            304: "not modified (If-None-Match)",
            401: "restricted record, anonymous caller",
            403: "restricted record",
            404: "no published record",
        },
    )
    def iiif_manifest(self, request: Request, record_id: str) -> Any:
        found = self.iiif.call("get_manifest", record_id)
        try:
            self.gate.require_item(request, "record", record_id)
        except (Unauthorized, Forbidden) as exc:
            raise with_probe(exc, self.settings.public_url, record_id) from None
        cache = PUBLIC_CACHE if found["public"] else PRIVATE_CACHE
        return iiif_document(request, found, PRESENTATION_TYPE, cache)

    @api("OPTIONS", MANIFEST, summary="CORS preflight", tags=TAGS, headers=CORS)
    def iiif_manifest_options(self, request: Request, record_id: str) -> Any:
        return preflight()

    @api(
        "GET",
        COLLECTION,
        summary="IIIF collection: all, class-…, rank-…, district-…, commune-…, unesco[-…]",
        tags=TAGS,
        headers=CORS,
        responses={
            301: "an old name of the collection: Location is its name now",
            304: "not modified",
            404: "no such collection",
        },
    )
    def iiif_collection(self, request: Request, name: str) -> Any:
        moved = self._renamed(name)
        if moved is not None:
            return moved
        found = self.iiif.call("get_collection", name)
        return iiif_document(request, found, PRESENTATION_TYPE)

    def _renamed(self, name: str, page: int | None = None) -> Response | None:
        """A collection's name from before the one naming style (``district-le_chan``):
        301 to its name now (``district-le-chan``), so partners' old links keep working."""
        if iiif_domain.valid_collection_name(name):
            return None
        new = iiif_domain.canonical_name(name)
        if new is None:
            return None
        base = str(self.settings.public_url).rstrip("/")
        return Response(
            status=301, headers={"Location": iiif_domain.collection_url(base, new, page)}
        )

    @api("OPTIONS", COLLECTION, summary="CORS preflight", tags=TAGS, headers=CORS)
    def iiif_collection_options(self, request: Request, name: str) -> Any:
        return preflight()

    @api(
        "GET",
        COLLECTION_PAGE,
        summary="One page of a large IIIF collection (from 1)",
        tags=TAGS,
        headers=CORS,
        responses={304: "not modified", 404: "no such collection or page"},
    )
    def iiif_collection_page(self, request: Request, name: str, page: int) -> Any:
        moved = self._renamed(name, page)
        if moved is not None:
            return moved
        found = self.iiif.call("get_collection", name, page)
        return iiif_document(request, found, PRESENTATION_TYPE)

    @api("OPTIONS", COLLECTION_PAGE, summary="CORS preflight", tags=TAGS, headers=CORS)
    def iiif_collection_page_options(self, request: Request, name: str, page: int) -> Any:
        return preflight()

    @api(
        "GET",
        CHANGES,
        summary="IIIF Change Discovery 1.0: activity stream of manifests and collections",
        tags=TAGS,
        headers=CORS,
        responses={304: "not modified"},
    )
    def iiif_changes(self, request: Request) -> Any:
        found = self.iiif.call("get_changes")
        return iiif_document(request, found, DISCOVERY_TYPE, "public, max-age=5")

    @api("OPTIONS", CHANGES, summary="CORS preflight", tags=TAGS, headers=CORS)
    def iiif_changes_options(self, request: Request) -> Any:
        return preflight()

    @api(
        "GET",
        CHANGES_PAGE,
        summary="One page of the activity stream (from 0, oldest first)",
        tags=TAGS,
        headers=CORS,
        responses={304: "not modified", 404: "no such page"},
    )
    def iiif_changes_page(self, request: Request, page: int) -> Any:
        found = self.iiif.call("get_changes", page)
        return iiif_document(request, found, DISCOVERY_TYPE, "public, max-age=5")

    @api("OPTIONS", CHANGES_PAGE, summary="CORS preflight", tags=TAGS, headers=CORS)
    def iiif_changes_page_options(self, request: Request, page: int) -> Any:
        return preflight()

    @api(
        "GET",
        CONTENT,
        summary="A content resource of a manifest (audio, video, 3D, PDF and its pages): "
        "a short-lived redirect to the file",
        tags=TAGS,
        headers=CORS,
        responses={
            302: "redirect to the file",
            401: "restricted",
            403: "restricted",
            404: "no such file of a published record",
        },
    )
    def iiif_content(self, request: Request, asset_id: str, name: str) -> Any:
        if not CONTENT_NAMES.match(name) or not _is_uuid(asset_id):
            raise NotFound("no such content resource")
        asset = self.media.call("get_asset", asset_id)
        record_id = str(asset["record_id"])
        self.iiif.call("get_manifest", record_id)  # published records only (404 otherwise)
        self.gate.require_item(request, "record", record_id)
        self.gate.require_item(request, "asset", asset_id)
        if asset.get("deleted_at") or asset.get("status") != "ready":
            raise NotFound("no such content resource")
        # media owns the buckets: it names the object and signs the URL (ADR 0056)
        url = self.media.call("content_url", asset_id, name, int(CONTENT_EXPIRES.total_seconds()))
        response = Response(status=302)
        response.headers["Location"] = url
        response.headers["Cache-Control"] = "private, max-age=600"
        return response

    @api("GET", ELSEWHERE[0], summary="Unknown IIIF Presentation path", tags=TAGS, headers=CORS)
    def iiif_presentation_unknown(self, request: Request, rest: str) -> Any:
        raise NotFound("no IIIF Presentation resource here")

    @api("GET", ELSEWHERE[1], summary="Unknown Change Discovery path", tags=TAGS, headers=CORS)
    def iiif_discovery_unknown(self, request: Request, rest: str) -> Any:
        raise NotFound("no Change Discovery resource here")
