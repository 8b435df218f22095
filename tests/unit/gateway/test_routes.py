"""Every gateway route states who may call it, and the OpenAPI document says so too."""

from __future__ import annotations

import pytest

from services.gateway.http import ApiRoute, api
from services.gateway.openapi import build_openapi, routes_of
from services.gateway.service import GatewayService
from shared.principals import ROLES


def test_every_operation_declares_its_required_roles():
    doc = build_openapi(GatewayService, "http://example.org", "1")
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) == len(routes_of(GatewayService))
    for op in operations:
        roles = op["x-required-roles"]
        assert roles and set(roles) <= set(ROLES) | {"public"}, op["operationId"]
        if roles != ["public"]:
            assert {"401", "403"} <= set(op["responses"]), op["operationId"]
            assert op["security"] == [{"bearer": []}, {"apiKey": []}]


def test_the_public_interface_routes_exist_with_their_roles():
    doc = build_openapi(GatewayService, "http://example.org", "1")
    assert doc["paths"]["/api/v1/auth/token"]["post"]["x-required-roles"] == ["public"]
    assert doc["paths"]["/healthz"]["get"]["x-required-roles"] == ["public"]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["x-required-roles"] == ["public"]
    assert doc["paths"]["/api/v1/users/{user_id}/roles"]["put"]["x-required-roles"] == ["admin"]


def test_only_operational_routes_skip_authentication():
    skipping = {route.url for _, route in routes_of(GatewayService) if not route.auth}
    # the IIIF Auth 2.0 probe authenticates in its handler (a bad token is a probe result)
    probe = "/iiif/auth/2/probe/<any(asset,record):kind>/<path:resource_id>"
    assert skipping == {"/healthz", "/readyz", probe}


@pytest.mark.parametrize(
    "options",
    [
        {"roles": ("root",)},
        {"roles": ()},
        {"roles": ("admin",), "auth": False},
    ],
)
def test_a_route_with_unknown_roles_or_unauthenticated_non_public_access_is_refused(options):
    with pytest.raises(ValueError):
        ApiRoute("GET", "/x", summary="x", **options)


def test_api_decorator_keeps_the_handler_signature():
    @api("GET", "/api/v1/things/<thing_id>", summary="a thing", roles=("researcher",))
    def get_thing(self, request, thing_id):
        return thing_id

    (route,) = get_thing.nameko_entrypoints
    assert route.roles == ("researcher",)
    assert get_thing.__name__ == "get_thing"
