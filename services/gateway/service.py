"""The gateway: the public HTTP front of the platform (REST /api/v1, health, API description)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from services.gateway.http import api, json_response
from services.gateway.openapi import build_openapi
from shared.health import run_checks
from shared.service import DisanService

API_VERSION = "1.0.0"


class GatewayService(DisanService):
    name = "gateway"

    @api("GET", "/healthz", summary="The gateway process is up", tags=("operations",))
    def healthz(self, request: Request) -> Any:
        return {"status": "ok", "service": self.name}

    @api(
        "GET",
        "/readyz",
        summary="Broker, database and S3 are reachable",
        tags=("operations",),
        responses={503: "a dependency is unreachable"},
    )
    def readyz(self, request: Request) -> Any:
        checks = run_checks(self.settings, ("broker", "database", "storage"))
        ok = all(v == "ok" for v in checks.values())
        return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": checks}

    @api(
        "GET",
        "/api/v1/openapi.json",
        summary="This API's OpenAPI 3.1 description",
        tags=("operations",),
    )
    def openapi(self, request: Request) -> Any:
        doc = build_openapi(type(self), self.settings.public_url, API_VERSION)
        return json_response(doc, headers={"Access-Control-Allow-Origin": "*"})
