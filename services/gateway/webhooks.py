"""The notifications routes: partners' webhook subscriptions, the event journal, e-mail settings.

A mixin of ``GatewayService``. Webhook routes are for partners (their API key owns the
subscriptions it creates; administrators see all); the journal is for staff; every staff user
sets their own e-mail address, language and digest choice. The notifications service does the
work by RPC. Deliveries and their signature: ``services/notifications/README.md``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from werkzeug.wrappers import Request

from services.gateway.http import STAFF, api, read_json
from shared.rpc_client import ServiceClient, ServiceRpc

RPC_TIMEOUT = 30.0
PARTNERS = ("partner",)
ID = "<subscription_id>"
MAX_BODY = 20_000
_EVENTS_EXAMPLE = ["catalogue.record_published", "catalogue.record_withdrawn"]


class WebhookCreate(Schema):
    url = fields.String(
        required=True, metadata={"example": "https://lgsp.haiphong.gov.vn/disan/webhook"}
    )
    events = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "event types, `service.*` or `*`",
            "example": _EVENTS_EXAMPLE,
        },
    )
    secret = fields.String(
        required=True,
        metadata={
            "description": "16–256 characters; signs every delivery, never shown again",
            "example": "3f9c1e...a long random string",
        },
    )
    filters = fields.Dict(
        metadata={"example": {"heritage_class": ["tangible_site"]}, "description": "optional"}
    )
    contact_email = fields.String(
        metadata={"example": "it@lgsp.haiphong.gov.vn", "description": "told when paused"}
    )
    description = fields.String(metadata={"example": "LGSP Hải Phòng"})


class Webhook(Schema):
    id = fields.UUID(metadata={"example": "0b7d3c52-3a8e-4d7f-9a61-5c2f1e0d9b44"})
    url = fields.String()
    events = fields.List(fields.String(), metadata={"example": _EVENTS_EXAMPLE})
    filters = fields.Dict()
    state = fields.String(metadata={"example": "active"})
    consecutive_failures = fields.Integer(metadata={"example": 0})


class Preferences(Schema):
    email = fields.String(required=True, metadata={"example": "can.bo@haiphong.gov.vn"})
    language = fields.String(metadata={"example": "vi", "description": "vi (default) or en"})
    digest = fields.Boolean(metadata={"description": "one e-mail a day instead of each"})
    enabled = fields.Boolean(metadata={"example": True})


def _actor(request: Any) -> dict[str, Any]:
    actor: dict[str, Any] = request.principal.to_dict()
    return actor


def _params(request: Request, *names: str) -> dict[str, str]:
    return {n: request.args[n] for n in names if request.args.get(n)}


_DELIVERY_QUERY = (
    {"name": "status", "schema": {"enum": ["pending", "delivered", "dead", "cancelled"]}},
    {"name": "cursor", "schema": {"type": "string"}, "description": "`next` of the last page"},
    {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
)
_JOURNAL_QUERY = (
    {
        "name": "type",
        "schema": {"type": "string"},
        "example": "catalogue.record_published",
        "description": "event types, comma-separated, or one `service.*`",
    },
    {"name": "since", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "schema": {"type": "string", "format": "date-time"}},
    {"name": "record_id", "schema": {"type": "string", "format": "uuid"}},
    {"name": "asset_id", "schema": {"type": "string", "format": "uuid"}},
    {"name": "actor", "schema": {"type": "string"}, "example": "user:42"},
    {"name": "cursor", "schema": {"type": "string"}},
    {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
)


class WebhookRoutes:
    """Webhook subscriptions, the event journal and e-mail preferences."""

    notifications: ServiceClient = ServiceRpc("notifications", "notifications service", RPC_TIMEOUT)

    # webhooks ----------------------------------------------------------------------------------
    @api(
        "POST",
        "/api/v1/webhooks",
        summary=(
            "Subscribe a URL to event types; deliveries are JSON POSTs of the event envelope "
            "signed in X-Disan-Signature (t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>)"
        ),
        tags=("webhooks",),
        roles=PARTNERS,
        request_schema=WebhookCreate,
        response_schema=Webhook,
        ok_status=201,
        responses={422: "bad URL (SSRF, scheme), events, filters or secret"},
    )
    def create_webhook(self, request: Request) -> Any:
        body = read_json(request, max_bytes=MAX_BODY)
        created = self.notifications.call("create_subscription", _actor(request), body)
        return 201, {"Location": f"/api/v1/webhooks/{created['id']}"}, created

    @api(
        "GET",
        "/api/v1/webhooks",
        summary="The caller's webhook subscriptions",
        tags=("webhooks",),
        roles=PARTNERS,
    )
    def list_webhooks(self, request: Request) -> Any:
        return {"items": self.notifications.call("list_subscriptions", _actor(request))}

    @api(
        "GET",
        f"/api/v1/webhooks/{ID}",
        summary="One webhook subscription (never its secret)",
        tags=("webhooks",),
        roles=PARTNERS,
        response_schema=Webhook,
        responses={404: "no such subscription (or not the caller's)"},
    )
    def get_webhook(self, request: Request, subscription_id: str) -> Any:
        return self.notifications.call("get_subscription", _actor(request), subscription_id)

    @api(
        "DELETE",
        f"/api/v1/webhooks/{ID}",
        summary="Delete a subscription; its pending deliveries are cancelled",
        tags=("webhooks",),
        roles=PARTNERS,
        responses={404: "no such subscription"},
    )
    def delete_webhook(self, request: Request, subscription_id: str) -> Any:
        return self.notifications.call("delete_subscription", _actor(request), subscription_id)

    @api(
        "POST",
        f"/api/v1/webhooks/{ID}/pause",
        summary="Pause deliveries (events keep queueing for the resume)",
        tags=("webhooks",),
        roles=PARTNERS,
        response_schema=Webhook,
    )
    def pause_webhook(self, request: Request, subscription_id: str) -> Any:
        return self.notifications.call("pause_subscription", _actor(request), subscription_id)

    @api(
        "POST",
        f"/api/v1/webhooks/{ID}/resume",
        summary="Resume a paused subscription (also after an automatic pause)",
        tags=("webhooks",),
        roles=PARTNERS,
        response_schema=Webhook,
    )
    def resume_webhook(self, request: Request, subscription_id: str) -> Any:
        return self.notifications.call("resume_subscription", _actor(request), subscription_id)

    @api(
        "POST",
        f"/api/v1/webhooks/{ID}/test",
        summary="Send a signed notifications.test event to this subscription",
        tags=("webhooks",),
        roles=PARTNERS,
        ok_status=202,
    )
    def test_webhook(self, request: Request, subscription_id: str) -> Any:
        return 202, self.notifications.call("send_test_event", _actor(request), subscription_id)

    @api(
        "GET",
        f"/api/v1/webhooks/{ID}/deliveries",
        summary="Delivery history, newest first; status=dead lists the dead-lettered ones",
        tags=("webhooks",),
        roles=PARTNERS,
        query=_DELIVERY_QUERY,
    )
    def webhook_deliveries(self, request: Request, subscription_id: str) -> Any:
        params = _params(request, "status", "cursor", "limit")
        return self.notifications.call("list_deliveries", _actor(request), subscription_id, params)

    @api(
        "GET",
        f"/api/v1/webhooks/{ID}/deliveries/<delivery_id>",
        summary="One delivery: the envelope sent and every attempt (status, error, duration)",
        tags=("webhooks",),
        roles=PARTNERS,
    )
    def webhook_delivery(self, request: Request, subscription_id: str, delivery_id: str) -> Any:
        return self.notifications.call(
            "get_delivery", _actor(request), subscription_id, delivery_id
        )

    @api(
        "POST",
        f"/api/v1/webhooks/{ID}/deliveries/<delivery_id>/redeliver",
        summary="Send a dead-lettered delivery again (a fresh retry window)",
        tags=("webhooks",),
        roles=PARTNERS,
        ok_status=202,
    )
    def redeliver_webhook(self, request: Request, subscription_id: str, delivery_id: str) -> Any:
        return 202, self.notifications.call(
            "redeliver", _actor(request), subscription_id, delivery_id
        )

    # the journal -------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/journal",
        summary="The event journal: every domain event, filtered by type, time, record, actor",
        tags=("journal",),
        roles=STAFF,
        query=_JOURNAL_QUERY,
    )
    def journal(self, request: Request) -> Any:
        params = _params(request, *(str(q["name"]) for q in _JOURNAL_QUERY))
        return self.notifications.call("query_journal", _actor(request), params)

    @api(
        "GET",
        "/api/v1/journal/records/<record_id>",
        summary="Everything that happened to one record (and its assets' events), in order",
        tags=("journal",),
        roles=STAFF,
        query=_JOURNAL_QUERY[-2:],
    )
    def record_journal(self, request: Request, record_id: str) -> Any:
        params = _params(request, "cursor", "limit")
        return self.notifications.call("record_journal", _actor(request), record_id, params)

    # e-mail ------------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/notifications/preferences",
        summary="The caller's e-mail address, language and digest choice",
        tags=("notifications",),
        roles=STAFF,
        response_schema=Preferences,
    )
    def get_preferences(self, request: Request) -> Any:
        return self.notifications.call("get_email_preferences", _actor(request))

    @api(
        "PUT",
        "/api/v1/notifications/preferences",
        summary="Set the caller's e-mail address, language (vi, en) and daily digest choice",
        tags=("notifications",),
        roles=STAFF,
        request_schema=Preferences,
        response_schema=Preferences,
    )
    def set_preferences(self, request: Request) -> Any:
        body = read_json(request, max_bytes=MAX_BODY)
        return self.notifications.call("set_email_preferences", _actor(request), body)
