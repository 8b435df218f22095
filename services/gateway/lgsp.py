"""The LGSP pull API: records changed since a time, for the city's e-government platform.

A mixin of ``GatewayService``. Versioned in the path (``/api/v1/lgsp/...``), plain JSON over
HTTP/1.1, authenticated by a partner API key (``X-API-Key``), paged by an opaque cursor that
the client keeps between polls. Served from the notifications service's event journal; why:
``docs/decisions/0070-notifications-journal-webhooks-lgsp.md``.
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import Schema, fields
from nameko.exceptions import RemoteError, UnknownService

from services.gateway.http import ApiRequest, api
from services.gateway.webhooks import PARTNERS
from shared.errors import DisanError
from shared.languages import vi_first_deep
from shared.rpc_client import ServiceClient

log = logging.getLogger(__name__)

_EXAMPLE = {
    "items": [
        {
            "change_id": 1042,
            "change": "published",
            "changed_at": "2026-11-27T08:00:00.123456+00:00",
            "record_id": "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11",
            "version": 4,
            "inventory_number": "HP-DT-0005",
            "heritage_class": "tangible_site",
            "state": "published",
            "title": {
                "vi": "Khu di tích Bạch Đằng Giang",
                "en": "Bạch Đằng river historic site",
            },
            "changed_fields": [],
            "href": "https://disan.haiphong.gov.vn/api/v1/records/8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11",
            "manifest": (
                "https://disan.haiphong.gov.vn/iiif/presentation/3/records/"
                "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11/manifest"
            ),
        },
        {
            "change_id": 1050,
            "change": "withdrawn",
            "changed_at": "2026-11-27T09:30:00+00:00",
            "record_id": "3d0f7c2a-1b4e-4c8d-9f6a-2e5b7a1c0d93",
            "version": 7,
            "href": "https://disan.haiphong.gov.vn/api/v1/records/3d0f7c2a-1b4e-4c8d-9f6a-2e5b7a1c0d93",
        },
    ],
    "cursor": "ajE6MTA1MA",
    "has_more": False,
}


class LgspChanges(Schema):
    items = fields.List(
        fields.Dict(),
        metadata={
            "description": (
                "changes oldest first: `published`, `updated` (a published record edited), "
                "`withdrawn`, `deleted`; drafts and records under review never appear, nor "
                "records this key may not read (restricted, embargoed, staff only). "
                "`href` gives the whole record (GET with the same key); `manifest`, its IIIF "
                "manifest, only while the record has one (published with an image or file)."
            ),
            "example": _EXAMPLE["items"],
        },
    )
    cursor = fields.String(
        metadata={
            "description": "send it as `cursor` next time (keep it between polls)",
            "example": _EXAMPLE["cursor"],
        }
    )
    has_more = fields.Boolean(metadata={"description": "another page is ready now"})


_QUERY = (
    {
        "name": "since",
        "schema": {"type": "string", "format": "date-time"},
        "example": "2026-11-01T00:00:00+07:00",
        "description": "first poll: changes recorded from this time on (ISO 8601 with zone)",
    },
    {
        "name": "cursor",
        "schema": {"type": "string"},
        "example": "ajE6MTA1MA",
        "description": "later polls: the `cursor` of the previous answer (`since` is ignored)",
    },
    {
        "name": "limit",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        "example": 100,
    },
)


class LgspRoutes:
    """The LGSP feed; uses the notifications client declared by ``WebhookRoutes`` and the iiif
    client of ``PresentationRoutes``."""

    notifications: ServiceClient
    iiif: ServiceClient  # PresentationRoutes

    @api(
        "GET",
        "/api/v1/lgsp/records/changes",
        summary=(
            "LGSP feed: heritage records published, edited, withdrawn or deleted since a time, "
            "in commit order, paged by cursor (API key; plain JSON over HTTP/1.1)"
        ),
        tags=("lgsp",),
        roles=PARTNERS,
        query=_QUERY,
        response_schema=LgspChanges,
        responses={422: "neither since nor cursor, or a malformed one"},
    )
    def lgsp_changes(self, request: ApiRequest) -> Any:
        params = {n: request.args[n] for n in ("since", "cursor", "limit") if request.args.get(n)}
        # the journal keeps jsonb (en first): titles go out vi first (ADR 0048)
        changes = self.notifications.call("lgsp_changes", request.principal.to_dict(), params)
        return vi_first_deep(self._existing_manifests(changes))

    def _existing_manifests(self, changes: Any) -> Any:
        """``changes`` with a ``manifest`` link only on items whose record has a manifest now
        (published, with a canvas): a record without media has none and its URL answers 404
        (ADR 0067). If the IIIF service cannot say, no item links one (never a 404)."""
        items = changes.get("items") if isinstance(changes, dict) else None
        linking = [i for i in items or () if isinstance(i, dict) and "manifest" in i]
        if not linking:
            return changes
        ids = sorted({str(i.get("record_id")) for i in linking})
        try:
            present = set(self.iiif.call("with_manifests", ids))
        except (DisanError, RemoteError, UnknownService) as exc:
            log.warning("LGSP feed without manifest links: the IIIF service did not say (%s)", exc)
            present = set()
        for item in linking:
            if str(item.get("record_id")) not in present:
                del item["manifest"]
        return changes
