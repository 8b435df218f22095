"""Malformed input at every route of the gateway answers 4xx, never 5xx (issue #14).

The routes come from the gateway's own OpenAPI document (GET /api/v1/openapi.json), so a route
added later is walked too. Each is called as an administrator (so the call gets past the
access checks to the parsing) with: NUL and other control characters, invalid UTF-8 and
look-alike ids in every path parameter; the same in every query parameter it declares and
in the ones routes commonly read; JSON nested thousands deep, invalid UTF-8 and non-JSON
bodies; a multipart body cut before its closing boundary. The IIIF routes the gateway serves
(presentation, annotations, content search, change discovery) are part of the document.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.media.support import png
from tests.integration.running import ADMIN_PASSWORD

pytestmark = pytest.mark.integration

# what a path or query parameter receives, percent-encoded as sent on the wire
BAD_VALUES = {
    "nul": "a%00b",
    "newline": "a%0Ab",
    "escape": "%1B%5B31m",
    "delete": "a%7Fb",
    "c1": "a%C2%85b",
    "invalid_utf8": "%FF%FE",
    "overlong_utf8": "%C0%80",
    "lone_surrogate": "%ED%A0%80",
    "zero": "0",
    "long": "9" * 300,
}
# query parameters routes read without declaring them all in the document
COMMON_QUERY = (
    "q", "type", "actor", "before", "since", "until", "cursor", "limit", "page", "format",
    "state", "from", "to", "origin", "messageId", "sha256", "dry_run", "record_id",
    "asset_id", "event", "district", "rank", "commune", "heritage_class", "motivation",
    "canvas", "sort", "lang", "user",
)  # fmt: skip
DEPTH = 3000
DEEP_BODIES = {
    "deep_arrays": b"[" * DEPTH + b"]" * DEPTH,
    "deep_objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "deep_inside_valid": b'{"name":"x","metadata":' + b"[" * 1200 + b"]" * 1200 + b"}",
    "moderately_deep": b'{"a":' * 200 + b"1" + b"}" * 200,
}
BAD_BODIES = {
    "invalid_utf8": b'{"title": {"vi": "\xff\xfe\xc0\x80"}}',
    "nul_in_json": b'{"username": "a\\u0000b", "password": "x\\u0000"}',
    "not_json": b"<xml/>",
    "truncated_json": b'{"a": [1, 2',
    "huge_integer": b'{"limit": ' + b"9" * 5000 + b"}",
    "nan": b'{"lat": NaN, "lon": Infinity}',
    "lone_surrogate": b'{"username": "\\ud800", "title": {"vi": "\\udfff"}}',
}
# what replaces every string of a route's documented example body
POISON = {"nul": "a\u0000b", "lone_surrogate": "\ud800x", "bidi_and_c1": "\u202e\x85x"}
BOUNDARY = "disanboundary42"
TRUNCATED_MULTIPART = (
    (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="page.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    + b"\x89PNG\r\n\x1a\n"
    + b"\0" * 2048
)  # no closing boundary
MULTIPART_BODIES = {
    "truncated_file": TRUNCATED_MULTIPART,
    "no_disposition": f"--{BOUNDARY}\r\nX: y\r\n\r\nabc\r\n--{BOUNDARY}--\r\n".encode(),
    "preamble_only": b"nothing but a preamble",
}
BODY_METHODS = ("post", "put", "patch")


def routes(edge: Any) -> list[tuple[str, str, dict[str, Any]]]:
    answer = requests.get(edge.url("/api/v1/openapi.json"), timeout=30)
    assert answer.status_code == 200, answer.text
    found = [
        (method.upper(), path, op)
        for path, ops in answer.json()["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(found) > 50
    return found


def good_value(edge: Any, name: str, schema: dict[str, Any]) -> str:
    """A real value for a path parameter (so a bad value elsewhere is what gets judged)."""
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return "0"
    if "asset" in name:
        return edge.asset_id
    if "record" in name or name == "id":
        return edge.record_id
    if name == "name":
        return "all"
    return str(uuid.uuid4())


def fill(edge: Any, path: str, op: dict[str, Any], bad: dict[str, str] | None = None) -> str:
    params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if bad is not None and name in bad:
            return bad[name]
        return good_value(edge, name, params.get(name, {}).get("schema", {}))

    return re.sub(r"{([^}]+)}", value, path)


# routes that end the caller's session: called with a token of their own
SESSION_ENDING = ("/api/v1/auth/logout", "/api/v1/auth/password")


def call(edge: Any, method: str, url: str, **kwargs: Any) -> requests.Response:
    headers = edge.admin()
    if url.split("?")[0] in SESSION_ENDING:
        login = edge.login("admin", ADMIN_PASSWORD, ip="10.77.0.1")
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    headers |= kwargs.pop("headers", {})
    for _ in range(3):  # a 503 says "try again" (a broker hiccup on a shared machine): do so
        answer = requests.request(method, edge.url(url), headers=headers, timeout=60, **kwargs)
        if answer.status_code != 503:
            break
        time.sleep(1)
    return answer


def failures(edge: Any, results: Iterator[tuple[str, requests.Response]]) -> list[str]:
    """Every 5xx answer, named by what was sent (the readiness probe may honestly be 503).
    The walk counts only if the administrator's token worked throughout (not 401 all along)."""
    bad = []
    for what, answer in results:
        if answer.status_code >= 500 and not what.startswith("GET /readyz"):
            bad.append(f"{what} -> {answer.status_code} {answer.text[:160]}")
    assert requests.get(edge.url("/api/v1/auth/me"), headers=edge.admin(), timeout=30).ok
    return bad


def test_the_walk_covers_the_iiif_routes_the_gateway_serves(edge):
    paths = {path for _, path, _ in routes(edge)}
    for prefix in (
        "/iiif/presentation/3/",
        "/iiif/discovery/1/",
        "/iiif/search/",
        "/iiif/annotations/3/",
    ):
        assert any(p.startswith(prefix) for p in paths), prefix


def test_bad_path_parameters_are_4xx(edge):
    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            names = re.findall(r"{([^}]+)}", path)
            for name in names:
                for label, value in BAD_VALUES.items():
                    url = fill(edge, path, op, {name: value})
                    yield f"{method} {path} [{name}={label}]", call(edge, method, url)

    assert failures(edge, results()) == []


def test_bad_query_parameters_are_4xx(edge):
    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            names = list(dict.fromkeys(declared + list(COMMON_QUERY)))
            url = fill(edge, path, op)
            for label, value in BAD_VALUES.items():
                query = "&".join(f"{n}={value}" for n in names)
                yield f"{method} {path} [query {label}]", call(edge, method, f"{url}?{query}")
            yield f"{method} {path} [NUL in a name]", call(edge, method, f"{url}?a%00b=1")

    assert failures(edge, results()) == []


def test_the_journal_filters_of_the_issue_are_400(edge):
    for query in ("type=a%00b", "actor=a%00b"):
        answer = call(edge, "GET", f"/api/v1/journal?{query}")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["details"]["reason"] == "control_character"


def test_deep_and_malformed_json_bodies_are_4xx(edge):
    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            if method.lower() not in BODY_METHODS:
                continue
            url = fill(edge, path, op)
            for media_type in ("application/json", "application/ld+json"):
                for label, body in (DEEP_BODIES | BAD_BODIES).items():
                    headers = {"Content-Type": media_type}
                    answer = call(edge, method, url, data=body, headers=headers)
                    yield f"{method} {path} [{media_type} {label}]", answer

    assert failures(edge, results()) == []


def poisoned(value: Any, text: str) -> Any:
    """``value`` with every string (keys stay) replaced by ``text``."""
    if isinstance(value, str):
        return text
    if isinstance(value, dict):
        return {k: poisoned(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, text) for v in value]
    return value


def test_documented_bodies_with_nul_and_lone_surrogates_in_every_string_are_4xx(edge):
    """The documented example of each body, every string in it made hostile."""

    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            content = op.get("requestBody", {}).get("content", {})
            for media_type, body in content.items():
                if "json" not in media_type or "example" not in body:
                    continue
                url = fill(edge, path, op)
                for label, text in POISON.items():
                    data = json.dumps(poisoned(body["example"], text)).encode()
                    headers = {"Content-Type": media_type.split(";")[0]}
                    answer = call(edge, method, url, data=data, headers=headers)
                    yield f"{method} {path} [example {label}]", answer

    assert failures(edge, results()) == []


DEEP_LINE = b"[" * DEPTH + b"]" * DEPTH
TEXT_BODIES = {
    ("application/x-ndjson", "deep_line"): b'{"a": 1}\n' + DEEP_LINE + b"\n",
    ("application/x-ndjson", "huge_integer"): b'{"a": ' + b"9" * 5000 + b"}\n",
    ("application/x-ndjson", "nan"): b'{"a": NaN}\n',
    ("text/csv", "deep_list_cell"): b'inventory_number,alternative_titles\nT-1,"'
    + DEEP_LINE
    + b'"\n',
    ("text/csv", "nul_cell"): b"inventory_number,alternative_titles\nT-1,a\x00b\n",
}


def test_json_lines_and_csv_bodies_with_deep_or_odd_json_are_4xx(edge):
    """Bodies that carry JSON inside another format (record import: JSON Lines, CSV cells)."""

    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            if method.lower() not in BODY_METHODS:
                continue
            url = fill(edge, path, op)
            for (media_type, label), body in TEXT_BODIES.items():
                for query in ("", "?dry_run=true"):
                    headers = {"Content-Type": media_type}
                    answer = call(edge, method, url + query, data=body, headers=headers)
                    yield f"{method} {path}{query} [{media_type} {label}]", answer

    assert failures(edge, results()) == []


def test_search_cursors_holding_deep_json_are_4xx(edge):
    import base64

    for inner in (DEEP_LINE, b"[" + b"9" * 5000 + b"]", b"[NaN, 1, 2]"):
        cursor = base64.urlsafe_b64encode(inner).decode().rstrip("=")
        for path in ("/api/v1/records", "/api/v1/journal", "/api/v1/lgsp/records/changes"):
            answer = call(edge, "GET", f"{path}?cursor={cursor}")
            assert answer.status_code < 500, (path, inner[:20], answer.text)


def test_deep_json_is_refused_with_its_reason_even_unauthenticated(edge):
    """The issue's case: 2-6 KB of brackets at the login route answered 500."""
    answer = requests.post(
        edge.url("/api/v1/auth/token"),
        data=DEEP_BODIES["deep_arrays"],
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    details = answer.json()["error"]["details"]
    assert details["reason"] == "json_too_deep"
    assert set(details["text"]) == {"vi", "en"}


def test_malformed_multipart_and_form_bodies_are_4xx(edge):
    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            if method.lower() not in BODY_METHODS:
                continue
            url = fill(edge, path, op)
            for label, body in MULTIPART_BODIES.items():
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
                answer = call(edge, method, url, data=body, headers=headers)
                yield f"{method} {path} [multipart {label}]", answer
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            for label, body in {
                "bad_utf8": b"username=%FF%FE&password=\xff",
                "nul": b"username=a%00b&password=x%00&csrf=%00&origin=http%3A%2F%2Fa%00b",
            }.items():
                answer = call(edge, method, url, data=body, headers=form)
                yield f"{method} {path} [form {label}]", answer

    assert failures(edge, results()) == []


# request headers routes read, and what they receive (bytes: latin-1 on the wire)
HEADERS = (
    "If-Match", "If-None-Match", "If-Modified-Since", "Idempotency-Key", "X-Checksum-SHA256",
    "Accept-Language", "Accept", "Range", "Origin", "X-Real-IP", "Cookie",
)  # fmt: skip
BAD_HEADER_VALUES = {"nul": b"a\x00b", "latin1": b"\xff\xfe\xe9", "escape": b"\x1b[31m"}


def test_bad_header_values_are_4xx(edge):
    def results() -> Iterator[tuple[str, requests.Response]]:
        for method, path, op in routes(edge):
            url = fill(edge, path, op)
            for label, value in BAD_HEADER_VALUES.items():
                headers = dict.fromkeys(HEADERS, value)
                yield f"{method} {path} [headers {label}]", call(edge, method, url, headers=headers)

    assert failures(edge, results()) == []


def multipart(fields: dict[str, bytes], filename: bytes, data: bytes) -> bytes:
    parts = [
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="' + name.encode()
        + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in fields.items()
    ]  # fmt: skip
    parts.append(
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename + b'"\r\nContent-Type: image/png\r\n\r\n' + data + b"\r\n"
    )  # fmt: skip
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


def test_uploads_with_hostile_form_fields_and_file_names_are_not_5xx(edge):
    """Well-formed multipart, but the text in it is not: NUL, invalid UTF-8, escapes."""
    image = png(32, 24)
    bodies = {
        "nul_in_caption": multipart({"caption_vi": b"a\x00b"}, b"page.png", image),
        "bad_utf8_in_caption": multipart({"caption_en": b"\xff\xfe"}, b"page.png", image),
        "nul_in_filename": multipart({}, b"pa\x00ge.png", image),
        "escape_in_filename": multipart({}, b"\x1b[31mpage\xff.png", image),
        "nul_in_field_name": multipart({"cap\x00tion": b"x"}, b"page.png", image),
    }

    def results() -> Iterator[tuple[str, requests.Response]]:
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        for url in (
            f"/api/v1/records/{edge.record_id}/media",
            f"/api/v1/media/{edge.asset_id}/versions",
        ):
            for label, body in bodies.items():
                answer = call(edge, "POST", url, data=body, headers=headers)
                yield f"POST {url} [{label}]", answer

    assert failures(edge, results()) == []


def test_a_truncated_upload_is_400_with_its_reason(edge):
    """The issue's case: a multipart body without its closing boundary answered 500."""
    answer = call(
        edge,
        "POST",
        f"/api/v1/records/{edge.record_id}/media",
        data=TRUNCATED_MULTIPART,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["reason"] == "malformed_multipart"
