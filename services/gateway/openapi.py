"""The OpenAPI 3.1 document, built from the routes the gateway really serves."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.http import ApiRoute

_PARAM = re.compile(r"<(?:([a-z_]+)(?:\(([^)]*)\))?:)?([a-z_]+)>")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


def routes_of(service_cls: type) -> list[tuple[str, ApiRoute]]:
    """Every ApiRoute of a service class, with its method name, in a stable order."""
    found: list[tuple[str, ApiRoute]] = []
    for name in sorted(dir(service_cls)):
        for entrypoint in getattr(getattr(service_cls, name, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiRoute):
                found.append((name, entrypoint))
    return sorted(found, key=lambda item: (item[1].url, item[1].method))


def openapi_path(url: str) -> str:
    return _PARAM.sub(r"{\3}", url)


def _path_parameters(url: str) -> list[dict[str, Any]]:
    params = []
    for converter, args, name in _PARAM.findall(url):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "any" and args:
            schema["enum"] = [a.strip().strip("'\"") for a in args.split(",")]
        elif converter == "int":
            schema = {"type": "integer"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def examples_of(service_cls: type) -> dict[str, dict[str, Any]]:
    """Whole-body examples by route method name, from each mixin's ``openapi_examples``:
    ``{"request": …, "response": …}``, with ``request_type``/``response_type`` for bodies that
    are not JSON."""
    found: dict[str, dict[str, Any]] = {}
    for klass in reversed(service_cls.__mro__):
        found |= vars(klass).get("openapi_examples", {})
    return found


def _body(schema: Any, example: dict[str, Any], key: str) -> dict[str, Any]:
    """The media types of a request or response body, with its example when there is one."""
    media = example.get(f"{key}_type", "application/json")
    if schema is None and key not in example:
        return {}
    content: dict[str, Any] = {"schema": schema if schema is not None else {"type": "string"}}
    if key in example:
        content["example"] = example[key]
    return {media: content}


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
    "description": (
        "A key of the caller's choosing (a UUID is best), kept for the request's effect: a "
        "request repeated with the same key (after a 503, a timeout or a dropped connection) "
        "is carried out once and answered with the first result; the same key with another "
        "body is `409 idempotency_key_reused`. Without it, a key is made for the request and "
        "given back in a 503's `details.idempotency_key`."
    ),
}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# sign-in operations: they create no resource and remember no answer (tokens are not kept)
NOT_REMEMBERED = frozenset({"auth_token", "auth_refresh", "auth_logout", "iiif_auth_login"})
OUTCOME_UNKNOWN = (
    "a service did not answer in time (`details.reason` `outcome_unknown`): the action may "
    "have been carried out; repeat with the same Idempotency-Key (`details.idempotency_key`) "
    "to get its result without doing it twice"
)


def build_openapi(service_cls: type, public_url: str, version: str) -> dict[str, Any]:
    spec = APISpec(
        title="Disan API",
        version=version,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": (
                "Disan, the digital heritage platform of Hải Phòng: records, media, IIIF and "
                "partner integration. Every operation states the roles that may call it in "
                "`x-required-roles` (`public` means anyone). Errors are "
                '`{"error": {"code", "message", "details"}}`; on every operation a query string '
                "over 8 KB is `400 query_too_long`, a URL over 32 KB `414 uri_too_long` and a "
                "header line over 8 KB `431 header_too_large` (ADR 0066). A POST, PUT or DELETE "
                "(sign-in excepted) may carry an `Idempotency-Key` header: repeated with the "
                "same key it acts once (ADR 0010)."
            )
        },
        servers=[{"url": public_url}],
    )
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    )
    operations: dict[str, dict[str, Any]] = {}
    examples = examples_of(service_cls)
    for name, route in routes_of(service_cls):
        example = examples.get(name, {})
        path = openapi_path(route.url)
        params = _path_parameters(route.url)
        for method in route.method.split(","):
            responses: dict[str, Any] = {}
            ok: dict[str, Any] = {"description": "success"}
            if content := _body(route.response_schema, example, "response"):
                ok["content"] = content
            responses[str(route.ok_status)] = ok
            for status, description in route.responses.items():
                responses[str(status)] = {
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            op: dict[str, Any] = {
                "operationId": route.operation_id or name,
                "summary": route.summary,
                "tags": list(route.tags),
                "x-required-roles": list(route.roles),
                "responses": responses,
            }
            query = [{"in": "query", **q} for q in route.query]
            remembered = method.upper() in WRITES and name not in NOT_REMEMBERED
            headers = [IDEMPOTENCY_PARAMETER] if remembered else []
            if params or query or headers:
                op["parameters"] = params + query + headers
            if headers:
                responses.setdefault("503", {"description": OUTCOME_UNKNOWN})
            if route.roles != ("public",):
                op["security"] = [{"bearer": []}, {"apiKey": []}]
                responses.setdefault("401", {"description": "no or invalid credentials"})
                responses.setdefault("403", {"description": "the caller's role may not do this"})
            if content := _body(route.request_schema, example, "request"):
                op["requestBody"] = {"required": True, "content": content}
            operations.setdefault(path, {})[method.lower()] = op
    for path, ops in operations.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
