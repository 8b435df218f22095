"""The gateway: the public HTTP front of the platform (REST /api/v1, health, API description).

Every route declares the roles that may call it; ``api`` authenticates and authorises each call
before the handler runs (see ``services/gateway/auth.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.gateway import schemas
from services.gateway.annotations import AnnotationRoutes
from services.gateway.auth import AccessGate, Gate
from services.gateway.http import (
    SIGNED_IN,
    STAFF,
    ApiRequest,
    api,
    json_response,
    read_json,
    uuid_param,
)
from services.gateway.iiif_auth import IiifAuthRoutes
from services.gateway.lgsp import LgspRoutes
from services.gateway.linked_data import LinkedDataRoutes
from services.gateway.media import MediaRoutes
from services.gateway.openapi import build_openapi
from services.gateway.presentation import PresentationRoutes
from services.gateway.records import RecordRoutes
from services.gateway.webhooks import WebhookRoutes
from shared import principals as domain
from shared.errors import ValidationFailed
from shared.health import run_checks
from shared.service import DisanService

API_VERSION = "1.0.0"
ADMIN = ("admin",)
NO_STORE = {"Cache-Control": "no-store"}
KINDS = "<any(record,asset):kind>"


def _actor(request: ApiRequest) -> dict[str, Any]:
    actor: dict[str, Any] = request.principal.to_dict()
    return actor


class GatewayService(
    RecordRoutes,
    LinkedDataRoutes,
    MediaRoutes,
    PresentationRoutes,
    IiifAuthRoutes,
    WebhookRoutes,
    LgspRoutes,
    AnnotationRoutes,
    DisanService,
):
    name = "gateway"

    gate: Gate = AccessGate()

    # operations ----------------------------------------------------------------------------
    @api("GET", "/healthz", summary="The gateway process is up", tags=("operations",), auth=False)
    def healthz(self, request: ApiRequest) -> Any:
        return {"status": "ok", "service": self.name}

    @api(
        "GET",
        "/readyz",
        summary="Broker, database and S3 are reachable",
        tags=("operations",),
        responses={503: "a dependency is unreachable"},
        auth=False,
    )
    def readyz(self, request: ApiRequest) -> Any:
        checks = run_checks(self.settings, ("broker", "database", "storage"))
        ok = all(v == "ok" for v in checks.values())
        return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": checks}

    @api(
        "GET",
        "/api/v1/openapi.json",
        summary="This API's OpenAPI 3.1 description",
        tags=("operations",),
    )
    def openapi(self, request: ApiRequest) -> Any:
        doc = build_openapi(type(self), self.settings.public_url, API_VERSION)
        return json_response(doc, headers={"Access-Control-Allow-Origin": "*"})

    # sign in and out -----------------------------------------------------------------------
    @api(
        "POST",
        "/api/v1/auth/token",
        summary="Log in with username and password; returns a bearer token",
        tags=("auth",),
        limit="login",
        request_schema=schemas.LoginRequest,
        response_schema=schemas.TokenResponse,
        responses={401: "wrong username or password", 429: "too many attempts"},
    )
    def auth_token(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.LoginRequest(), max_bytes=10_000)
        tokens = self.gate.call(
            "login", body["username"], body["password"], self.gate.client_ip(request)
        )
        return 200, NO_STORE, tokens

    @api(
        "POST",
        "/api/v1/auth/refresh",
        summary="Exchange a refresh token for new tokens (each refresh token works once)",
        tags=("auth",),
        limit="login",
        request_schema=schemas.RefreshRequest,
        response_schema=schemas.TokenResponse,
        responses={401: "invalid, used or expired refresh token"},
    )
    def auth_refresh(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.RefreshRequest(), max_bytes=10_000)
        return (
            200,
            NO_STORE,
            self.gate.call("refresh", body["refresh_token"], self.gate.client_ip(request)),
        )

    @api(
        "POST",
        "/api/v1/auth/logout",
        summary="End this session: the token and its refresh tokens stop working",
        tags=("auth",),
        roles=SIGNED_IN,
        request_schema=schemas.LogoutRequest,
    )
    def auth_logout(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.LogoutRequest(), max_bytes=10_000) if request.data else {}
        claims = getattr(request, "token_claims", None)
        return self.gate.call(
            "logout",
            _actor(request),
            body.get("refresh_token"),
            claims.jti if claims else None,
            claims.expires_at if claims else None,
        )

    @api(
        "GET",
        "/api/v1/auth/me",
        summary="Who the caller is: kind, id, name, roles",
        tags=("auth",),
        roles=SIGNED_IN,
        response_schema=schemas.PrincipalResponse,
    )
    def auth_me(self, request: ApiRequest) -> Any:
        return _actor(request)

    @api(
        "POST",
        "/api/v1/auth/password",
        summary="Change one's own password; every session of the account ends",
        tags=("auth",),
        roles=SIGNED_IN,
        limit="login",
        request_schema=schemas.PasswordRequest,
        responses={403: "wrong current password", 422: "the new password is too weak"},
    )
    def auth_password(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.PasswordRequest(), max_bytes=10_000)
        return self.gate.call(
            "change_password",
            _actor(request),
            body["current_password"],
            body["new_password"],
            self.gate.client_ip(request),
        )

    # users ---------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/users",
        summary="List user accounts",
        tags=("users",),
        roles=ADMIN,
    )
    def list_users(self, request: ApiRequest) -> Any:
        return {"items": self.gate.call("list_users", _actor(request))}

    @api(
        "POST",
        "/api/v1/users",
        summary="Create a user account",
        tags=("users",),
        roles=ADMIN,
        request_schema=schemas.UserRequest,
        response_schema=schemas.UserResponse,
        responses={409: "username taken", 422: "invalid username, password or roles"},
    )
    def create_user(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.UserRequest(), max_bytes=10_000)
        user = self.gate.call(
            "create_user",
            _actor(request),
            body["username"],
            body["password"],
            body["roles"],
            body["display_name"],
        )
        return 201, user

    @api(
        "GET",
        "/api/v1/users/<user_id>",
        summary="One user account",
        tags=("users",),
        roles=ADMIN,
        response_schema=schemas.UserResponse,
        responses={404: "no such user"},
    )
    def get_user(self, request: ApiRequest, user_id: str) -> Any:
        return self.gate.call("get_user", _actor(request), user_id)

    @api(
        "PUT",
        "/api/v1/users/<user_id>/roles",
        summary="Set a user's roles (administrators only; never one's own escalation)",
        tags=("users",),
        roles=ADMIN,
        request_schema=schemas.RolesRequest,
        response_schema=schemas.UserResponse,
        responses={404: "no such user", 422: "unknown role"},
    )
    def set_user_roles(self, request: ApiRequest, user_id: str) -> Any:
        body = read_json(request, schemas.RolesRequest(), max_bytes=10_000)
        return self.gate.call("set_user_roles", _actor(request), user_id, body["roles"])

    @api(
        "PUT",
        "/api/v1/users/<user_id>/disabled",
        summary="Disable or enable an account (its sessions end at once)",
        tags=("users",),
        roles=ADMIN,
        request_schema=schemas.DisabledRequest,
        response_schema=schemas.UserResponse,
        responses={404: "no such user"},
    )
    def set_user_disabled(self, request: ApiRequest, user_id: str) -> Any:
        body = read_json(request, schemas.DisabledRequest(), max_bytes=10_000)
        return self.gate.call("set_user_disabled", _actor(request), user_id, body["disabled"])

    # API keys ------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/apikeys",
        summary="List partner API keys (never the keys themselves)",
        tags=("apikeys",),
        roles=ADMIN,
    )
    def list_api_keys(self, request: ApiRequest) -> Any:
        return {"items": self.gate.call("list_api_keys", _actor(request))}

    @api(
        "POST",
        "/api/v1/apikeys",
        summary="Create a partner API key; the key is shown in this answer only",
        tags=("apikeys",),
        roles=ADMIN,
        request_schema=schemas.ApiKeyRequest,
        response_schema=schemas.ApiKeyResponse,
        responses={422: "invalid name, roles, scopes or expiry"},
    )
    def create_api_key(self, request: ApiRequest) -> Any:
        body = read_json(request, schemas.ApiKeyRequest(), max_bytes=10_000)
        key = self.gate.call(
            "create_api_key",
            _actor(request),
            body["name"],
            body["roles"],
            body["scopes"],
            body["expires_at"],
        )
        return 201, NO_STORE, key

    @api(
        "DELETE",
        "/api/v1/apikeys/<key_id>",
        summary="Revoke a partner API key (it stops working within seconds)",
        tags=("apikeys",),
        roles=ADMIN,
        response_schema=schemas.ApiKeyResponse,
        responses={404: "no such key"},
    )
    def revoke_api_key(self, request: ApiRequest, key_id: str) -> Any:
        return self.gate.call("revoke_api_key", _actor(request), key_id)

    # item policies -------------------------------------------------------------------------
    @api(
        "GET",
        f"/api/v1/policies/{KINDS}/<resource_id>",
        summary="The access policy of a record or asset",
        tags=("policies",),
        roles=STAFF,
        response_schema=schemas.PolicyResponse,
        responses={400: "resource_id is not a UUID"},
    )
    def get_policy(self, request: ApiRequest, kind: str, resource_id: str) -> Any:
        return self.gate.call("get_policy", kind, uuid_param("resource_id", resource_id))

    @api(
        "PUT",
        f"/api/v1/policies/{KINDS}/<resource_id>",
        summary="Set the access policy of a record or asset",
        tags=("policies",),
        roles=("admin", "cataloguer"),
        request_schema=schemas.PolicyRequest,
        response_schema=schemas.PolicyResponse,
        responses={400: "resource_id is not a UUID", 422: "invalid level or embargo date"},
    )
    def set_policy(self, request: ApiRequest, kind: str, resource_id: str) -> Any:
        resource_id = uuid_param("resource_id", resource_id)
        body = read_json(request, schemas.PolicyRequest(), max_bytes=10_000)
        return self.gate.call(
            "set_policy",
            _actor(request),
            kind,
            resource_id,
            body["level"],
            body["embargo_until"],
            body["reason"],
        )

    @api(
        "GET",
        f"/api/v1/access/{KINDS}/<resource_id>",
        summary="May the caller see this record or asset? (the policy and the decision)",
        tags=("policies",),
        response_schema=schemas.AccessDecisionResponse,
        responses={400: "resource_id is not a UUID"},
    )
    def check_access(self, request: ApiRequest, kind: str, resource_id: str) -> Any:
        resource_id = uuid_param("resource_id", resource_id)
        policy = self.gate.policy(kind, resource_id)
        decision = domain.authorize(
            request.principal,
            "read",
            domain.Item(kind, resource_id, policy),
            datetime.now(UTC),
        )
        return {
            "resource_kind": kind,
            "resource_id": resource_id,
            "level": policy.level,
            "embargo_until": policy.embargo_until.isoformat() if policy.embargo_until else None,
            "reason": policy.reason,
            "allowed": decision.allowed,
            "status": decision.status,
            "explanation": decision.reason,
        }

    # audit ---------------------------------------------------------------------------------
    @api(
        "GET",
        "/api/v1/audit",
        summary="The access audit log, newest first (?type=&actor=&before=&limit=)",
        tags=("audit",),
        roles=ADMIN,
    )
    def audit(self, request: ApiRequest) -> Any:
        args = request.args
        try:
            limit = int(args.get("limit", "100"))
        except ValueError:
            raise ValidationFailed("limit must be a number") from None
        items = self.gate.call(
            "list_audit",
            _actor(request),
            args.get("type") or None,
            args.get("actor") or None,
            args.get("before") or None,
            limit,
        )
        return {"items": items}
