"""Every record and vocabulary operation in the OpenAPI document has whole-body examples, and
each example is valid against its own schema: the document's JSON Schema and the route's
marshmallow schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.gateway.openapi import build_openapi, routes_of
from services.gateway.service import GatewayService

SPEC = build_openapi(GatewayService, "http://127.0.0.1:8000", "test")
TAGS = {"records", "vocabularies"}
ROUTES = {name: route for name, route in routes_of(GatewayService) if TAGS & set(route.tags)}
OPERATIONS = [
    (path, method, op)
    for path, ops in SPEC["paths"].items()
    for method, op in ops.items()
    if TAGS & set(op.get("tags", ()))
]


def check(schema: dict[str, Any], example: Any) -> list[str]:
    """JSON Schema errors of ``example`` (the document's components resolve ``$ref``)."""
    validator = Draft202012Validator(schema | {"components": SPEC["components"]})
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(example)
    ]


def test_every_record_route_is_in_the_document():
    assert len(OPERATIONS) == len(ROUTES) >= 16


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_every_record_operation_has_a_valid_example_of_its_bodies(path, method, op):
    route = ROUTES[op["operationId"]]
    success = op["responses"][str(route.ok_status)]
    bodies = [("response", media) for media in success.get("content", {}).values()]
    assert bodies, f"{method} {path}: no success body documented"
    bodies += [("request", m) for m in op.get("requestBody", {}).get("content", {}).values()]
    for kind, media in bodies:
        assert "example" in media, f"{method} {path}: no {kind} example"
        assert check(media["schema"], media["example"]) == [], f"{method} {path} {kind}"
    schemas = {"request": route.request_schema, "response": route.response_schema}
    for kind, media in bodies:
        if schemas[kind] is not None:
            assert schemas[kind]().validate(media["example"]) == {}, f"{method} {path} {kind}"


def test_a_wrong_example_would_be_caught():
    create = SPEC["paths"]["/api/v1/records"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    example = create["requestBody"]["content"]["application/json"]["example"]
    assert check(schema, example) == []
    assert check(schema, example | {"colour": "red"})
    assert check(schema, {k: v for k, v in example.items() if k != "title"})
