"""Walk the live OpenAPI document: every non-public operation answers 401 without credentials
and 403 to every role (and partner API key) it does not admit; public ones never ask for
credentials. New routes are covered the moment they are declared."""

from __future__ import annotations

import re
import uuid

import pytest

from shared.principals import ROLES

pytestmark = pytest.mark.integration

_PARAM = re.compile(r"\{([a-z_]+)\}")
# routes whose handlers only need the services running here; the handlers of other services'
# routes are not run (the 401/403 checks refuse before any handler, so they cover every route)
OWN_TAGS = {"auth", "users", "apikeys", "policies", "audit", "operations"}


def operations(platform):
    doc = platform.request("GET", "/api/v1/openapi.json").json()
    for path, ops in sorted(doc["paths"].items()):
        concrete = _PARAM.sub(
            lambda m: "record" if m.group(1) == "kind" else str(uuid.uuid4()), path
        )
        for method, op in sorted(ops.items()):
            own = bool(set(op.get("tags", [])) & OWN_TAGS)
            yield method.upper(), path, concrete, op["x-required-roles"], own


def call(platform, method, path, **auth):
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return platform.request(method, path, **auth, **body)


def test_openapi_document_is_public_and_lists_the_auth_routes(platform):
    answer = platform.request("GET", "/api/v1/openapi.json")
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/api/v1/auth/token" in paths and "/api/v1/apikeys" in paths


def test_every_non_public_route_is_401_without_credentials(platform):
    checked = 0
    for method, path, concrete, roles, own in operations(platform):
        if roles == ["public"]:
            if own:
                answer = call(platform, method, concrete)
                assert answer.status_code != 401, f"{method} {path}: {answer.text}"
            continue
        answer = call(platform, method, concrete)
        assert answer.status_code == 401, f"{method} {path} answered {answer.status_code}"
        assert answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
        checked += 1
    assert checked >= 10


def test_every_non_public_route_is_403_for_each_role_it_does_not_admit(platform):
    key = platform.new_key(name="matrix partner", roles=["partner"])["key"]
    checked = 0
    for method, path, concrete, roles, _own in operations(platform):
        if roles == ["public"]:
            continue
        for role in ROLES:
            if role in roles or role == "admin":
                continue
            answer = call(platform, method, concrete, token=platform.token_for(role))
            assert answer.status_code == 403, f"{method} {path} as {role}: {answer.status_code}"
            assert answer.json()["error"]["code"] == "forbidden"
            checked += 1
        if "partner" not in roles:
            answer = call(platform, method, concrete, key=key)
            assert answer.status_code == 403, f"{method} {path} with a partner key"
    assert checked >= 20


def test_admitted_roles_get_past_the_gate(platform):
    """The other half: a role a route admits is never refused (logout is tested on its own)."""
    for method, path, concrete, roles, own in operations(platform):
        if roles == ["public"] or path == "/api/v1/auth/logout" or not own:
            continue
        for role in roles:
            answer = call(platform, method, concrete, token=platform.token_for(role))
            assert answer.status_code not in (401, 403), f"{method} {path} as {role}: {answer.text}"


def test_denied_requests_are_audited(platform):
    platform.request("GET", "/api/v1/audit", token=platform.token_for("researcher"))
    platform.wait_audit(
        "access.request_denied",
        lambda e: e["data"]["path"] == "/api/v1/audit" and e["data"]["status"] == 403,
    )
