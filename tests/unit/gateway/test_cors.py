"""CORS preflights for routes without an OPTIONS handler of their own (services.gateway.cors)."""

from __future__ import annotations

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from services.gateway.cors import ALLOW_HEADERS, preflight, with_cors


def options(headers: dict[str, str] | None = None, method: str = "OPTIONS") -> Request:
    builder = EnvironBuilder(path="/iiif/annotations/3/x", method=method, headers=headers or {})
    return Request(builder.get_environ())


def test_a_preflight_of_an_existing_path_is_204_with_its_methods_and_the_asked_headers():
    asked = {"Access-Control-Request-Headers": "authorization, content-type"}
    answer = preflight(options(asked), MethodNotAllowed(["POST", "GET", "HEAD"]))
    assert answer is not None and answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS, POST"
    assert answer.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert answer.headers["Access-Control-Max-Age"] == "86400"


def test_odd_asked_headers_get_the_default_list():
    asked = {"Access-Control-Request-Headers": "x-a; x-b=<script>"}
    answer = preflight(options(asked), MethodNotAllowed(["GET"]))
    assert answer is not None
    assert answer.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
    assert "Authorization" in ALLOW_HEADERS


def test_only_preflights_of_existing_paths_are_answered():
    assert preflight(options(method="DELETE"), MethodNotAllowed(["GET"])) is None
    assert preflight(options(), NotFound()) is None


def test_every_answer_is_readable_cross_site_unless_the_route_says_otherwise():
    plain = with_cors(Response("{}", status=401))
    assert plain.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in plain.headers["Access-Control-Expose-Headers"]
    own = Response("{}")
    own.headers["Access-Control-Expose-Headers"] = "ETag"
    assert with_cors(own).headers["Access-Control-Expose-Headers"] == "ETag"
