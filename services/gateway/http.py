"""The gateway's HTTP entrypoint: JSON in and out, one error format, one error→status table.

``api(method, path, ...)`` registers a nameko HTTP route and carries what the OpenAPI document
says of it: summary, tags, the roles that may call it, request and response schemas.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import amqp
import kombu.exceptions
from eventlet import wsgi
from marshmallow import Schema
from marshmallow import ValidationError as SchemaValidationError
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.multipart import Event, MultipartDecoder
from werkzeug.wrappers import Request, Response

from services.gateway.api_request import ApiRequest as ApiRequest
from services.gateway.cors import preflight, with_cors
from shared.errors import BadRequest, DisanError, NotFound, error_body, http_status

log = logging.getLogger(__name__)

#: seconds a 503 tells the client to wait (``Retry-After``) unless its details say otherwise
UNAVAILABLE_RETRY_AFTER = 5
#: the broker went away under a call (refused, reset, closed): a 503, not a 500
BROKER_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableConnectionError,
    kombu.exceptions.OperationalError,
)

JSON = "application/json"
PUBLIC = "public"
KNOWN_ROLES = frozenset({PUBLIC, "admin", "cataloguer", "reviewer", "researcher", "partner"})
STAFF = ("admin", "cataloguer", "reviewer")
SIGNED_IN = ("admin", "cataloguer", "reviewer", "researcher", "partner")

F = TypeVar("F", bound=Callable[..., Any])

# Long URLs (ADR 0066). A query string longer than MAX_QUERY_BYTES reaches the route and is a 400
# ``query_too_long`` (with the route's headers, CORS included); a request line longer than
# MAX_REQUEST_LINE is refused by the HTTP server itself with a 414 ``uri_too_long`` in the same
# JSON format, and so is a header line over eventlet's 8 KiB (431). The nginx front has the
# same request-line limit (disan/cli/nginx.py).
MAX_QUERY_BYTES = 8 * 1024
MAX_REQUEST_LINE = 32 * 1024
DRAIN_BYTES = 256 * 1024

# Bad input at the edge (ADR 0037): a JSON body nested deeper than MAX_JSON_DEPTH, a control
# character in a query or path parameter, a truncated multipart body, an id that is no UUID are
# 400s with a stable reason and its text in Vietnamese and English, never a RecursionError or a
# 500.
MAX_JSON_DEPTH = 64
INPUT_TEXT: dict[str, dict[str, str]] = {
    "json_too_deep": {
        "vi": f"Nội dung JSON lồng nhau quá sâu (tối đa {MAX_JSON_DEPTH} cấp).",
        "en": f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels).",
    },
    "invalid_json": {
        "vi": "Nội dung không phải JSON hợp lệ mã hoá UTF-8.",
        "en": "The body is not valid UTF-8 JSON.",
    },
    "invalid_text": {
        "vi": "Một chuỗi trong nội dung chứa ký tự NUL hoặc ký tự thay thế (surrogate) đơn lẻ.",
        "en": "A text in the body holds NUL or a lone surrogate character.",
    },
    "control_character": {
        "vi": "Tham số chứa ký tự điều khiển (ví dụ NUL); hãy bỏ ký tự đó.",
        "en": "A parameter contains a control character (such as NUL); leave it out.",
    },
    "invalid_id": {
        "vi": "Mã định danh không hợp lệ: cần một UUID.",
        "en": "The identifier is not valid: a UUID is expected.",
    },
    "malformed_multipart": {
        "vi": "Nội dung multipart/form-data bị cắt cụt hoặc sai định dạng; hãy gửi lại tệp.",
        "en": "The multipart/form-data body is truncated or malformed; send the file again.",
    },
}


def input_refusal(reason: str, message: str, **extra: Any) -> BadRequest:
    """A 400 for malformed input: details carry the stable ``reason`` and its vi/en text."""
    return BadRequest(message, {"reason": reason, "text": dict(INPUT_TEXT[reason]), **extra})


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None, content_type: str = JSON
) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    response = Response(
        body,
        status=status,
        content_type=f"{content_type}; charset=utf-8" if content_type == JSON else content_type,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    response = json_response(error_body(code, message, details), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="disan"'
    if status == 429 and isinstance(details, dict) and "retry_after" in details:
        response.headers["Retry-After"] = str(details["retry_after"])
    if status == 503:  # a dependency is unreachable for now: say when to come back
        after = details.get("retry_after") if isinstance(details, dict) else None
        response.headers["Retry-After"] = str(after or UNAVAILABLE_RETRY_AFTER)
    return response


def response_for_exception(exc: BaseException) -> Response:
    """Map any exception to the one error format; unknown errors become a 500 without details."""
    if isinstance(exc, DisanError):
        return error_response(http_status(type(exc).__name__), exc.code, exc.message, exc.details)
    if isinstance(exc, SchemaValidationError):
        return error_response(
            422, "validation_failed", "the request body is not valid", exc.messages
        )
    if isinstance(exc, RemoteError):
        status = http_status(exc.exc_type)
        if status < 500 or status == 503:
            code = exc.exc_type[0].lower() + "".join(
                f"_{c.lower()}" if c.isupper() else c for c in exc.exc_type[1:]
            )
            return error_response(status, code, str(exc.value))
    if isinstance(exc, HTTPException):
        return error_response(
            exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
        )
    if isinstance(exc, BROKER_DOWN):  # the message bus went away under a call: not our bug
        log.warning("message bus unreachable: %s", exc)
        return error_response(503, "unavailable", "the message bus is unreachable; try again")
    log.error("unhandled error in gateway: %s", exc, exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred")


def read_json(
    request: Request,
    schema: Schema | None = None,
    max_bytes: int = 1_000_000,
    media_types: tuple[str, ...] = (JSON,),
) -> Any:
    """The request's JSON body, size-checked and validated; clear 4xx errors otherwise.

    ``media_types`` are the JSON media types accepted (e.g. ``application/ld+json`` too).
    """
    from shared.errors import PayloadTooLarge, UnsupportedMediaType

    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    if request.mimetype not in media_types:
        raise UnsupportedMediaType(f"send the body as {' or '.join(media_types)}")
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    data = load_json(raw)
    return schema.load(data) if schema is not None else data


def load_json(raw: bytes) -> Any:
    """Bytes of a request body as JSON, at most ``MAX_JSON_DEPTH`` deep, every string text
    PostgreSQL and UTF-8 can hold; 400 otherwise.

    Python's decoder recurses per level (about a thousand levels end in ``RecursionError``),
    and so would every later step (schemas, NFC, RPC serialisation): deep bodies stop here. So
    do what would fail later as a 500: NaN and Infinity (not JSON), integers over Python's 4,300
    digits, NUL (``\\u0000``, refused by PostgreSQL) and lone surrogates (not encodable).
    """
    problem: str | None = "json_too_deep"
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise input_refusal("invalid_json", f"the body is not valid UTF-8 JSON: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, NaN, an integer too long to convert
        raise input_refusal("invalid_json", f"the body is not valid JSON: {exc}") from exc
    except RecursionError:
        pass
    else:
        problem = _problem_in(data, MAX_JSON_DEPTH)
        if problem is None:
            return data
    if problem == "invalid_text":
        raise input_refusal(
            "invalid_text", "a string in the body holds NUL (\\u0000) or a lone surrogate"
        )
    raise input_refusal(
        "json_too_deep",
        f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
        max_depth=MAX_JSON_DEPTH,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_BAD_TEXT = re.compile("[\\x00\\ud800-\\udfff]")


def _problem_in(value: Any, limit: int) -> str | None:
    """Why ``value`` may not go further (``json_too_deep``, ``invalid_text``) or None; walked
    without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                return "invalid_text"
            continue
        children: Iterable[Any]
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return "json_too_deep"
        stack.extend((child, depth + 1) for child in children)
    return None


def uuid_param(name: str, value: str) -> str:
    """A path parameter that must be a UUID, in canonical form; a 400 ``invalid_id`` otherwise
    (nothing further down could find it, and events about it would be refused)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise input_refusal(
            "invalid_id", f"{name} must be a UUID, not {_printable(value)!r}", parameter=name
        ) from None


def check_parameters(request: Request, path_values: dict[str, Any]) -> None:
    """Refuse control characters (NUL, newlines, escapes) in query and path parameters: no
    route takes them, and PostgreSQL cannot even store a NUL (a 500 further down). A query
    parameter is a 400; a path parameter names nothing that exists, a 404."""
    for name, value in request.args.items(multi=True):
        if _has_control(name) or _has_control(value):
            raise input_refusal(
                "control_character",
                f"the query parameter {_printable(name)!r} contains a control character",
                parameter=_printable(name),
            )
    for name, value in path_values.items():
        if isinstance(value, str) and _has_control(value):
            raise NotFound(
                f"nothing here: the path parameter {name!r} contains a control character",
                {
                    "reason": "control_character",
                    "text": dict(INPUT_TEXT["control_character"]),
                    "parameter": name,
                },
            )


def _has_control(text: str) -> bool:
    return not text.isprintable() and any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "\ufffd" for c in str(text)[:64])


def form_text(data: bytes) -> str:
    """A form field's bytes as text (invalid UTF-8 shown as U+FFFD); NUL, which PostgreSQL
    cannot store, is a 400 ``invalid_text``."""
    if b"\x00" in data:
        raise input_refusal("invalid_text", "a form field holds NUL (\\x00)")
    return data.decode("utf-8", "replace")


class StrictMultipartDecoder(MultipartDecoder):
    """werkzeug's multipart decoder, but a truncated or malformed body (no closing boundary, a
    part without Content-Disposition) is a 400 ``malformed_multipart``, not a ``ValueError``."""

    def next_event(self) -> Event:
        try:
            return super().next_event()
        except ValueError as exc:
            raise input_refusal(
                "malformed_multipart", f"the multipart/form-data body is malformed: {exc}"
            ) from None


class JsonWsgiApp(WsgiApp):  # type: ignore[misc]
    """Unknown paths and wrong methods answer in the error format too."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = ApiRequest(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = preflight(request, exc) or response_for_exception(exc)
        in_language(response, request)
        return with_cors(response)(environ, start_response)


def in_language(response: Response, request: Request) -> None:
    """An error body's message in the caller's language (Accept-Language: vi by default, en);
    every route's refusal passes here once, whoever raised it (ADR 0045)."""
    from shared.errors import localise_body, negotiate_language

    if response.status_code < 400 or response.is_streamed or response.mimetype != JSON:
        return
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return
    language = negotiate_language(request.headers.get("Accept-Language"))
    if localise_body(body, language):
        response.set_data(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        response.headers["Content-Language"] = language
        response.vary.add("Accept-Language")  # a cache must not answer one language to another


def refusal(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response in the error format, for what the server refuses itself."""
    body = json.dumps(error_body(code, message, language="vi"), ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {JSON}; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nAccess-Control-Allow-Origin: *\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class JsonHttpProtocol(HttpOnlyProtocol):  # type: ignore[misc]
    """eventlet's protocol, but a request line or header over the limits is answered in the
    error format (eventlet answers an empty 414 or 400)."""

    def _read_request_line(self) -> Any:
        line = super()._read_request_line()
        limit = self.server.url_length_limit
        if len(line) >= limit:
            self._refuse(
                414,
                "URI Too Long",
                "uri_too_long",
                f"the URL is longer than {limit} bytes: send a shorter query",
            )
            return ""  # eventlet then closes the connection
        return line

    def parse_request(self) -> bool:
        try:
            return bool(super().parse_request())
        except (wsgi.HeaderLineTooLong, wsgi.HeadersTooLarge):
            self._refuse(
                431,
                "Request Header Fields Too Large",
                "header_too_large",
                f"a header line is longer than {wsgi.MAX_HEADER_LINE} bytes, or all headers "
                f"longer than {wsgi.MAX_TOTAL_HEADER_SIZE}",
            )
            return False

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        self.close_connection = 1
        try:
            self.wfile.write(refusal(status, reason, code, message))
            self.wfile.flush()
            self._drain()
        except OSError:
            pass

    def _drain(self) -> None:
        """Read what the client is still sending of the request head (bounded, briefly), so
        closing does not reset the connection before the client reads the answer."""
        self.connection.settimeout(1.0)
        rfile: Any = getattr(self.rfile, "fp", self.rfile)  # not the header reader (limits)
        read = 0
        while read < DRAIN_BYTES:
            chunk = rfile.readline(64 * 1024)
            read += len(chunk)
            if chunk in (b"", b"\r\n", b"\n"):
                break


class JsonWebServer(WebServer):  # type: ignore[misc]
    def get_wsgi_app(self) -> Any:
        return JsonWsgiApp(self)

    def get_wsgi_server(
        self, sock: Any, wsgi_app: Any, protocol: Any = JsonHttpProtocol, debug: bool = False
    ) -> Any:
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.url_length_limit = MAX_REQUEST_LINE
        return server


class ApiRoute(HttpRequestHandler):  # type: ignore[misc]
    """A documented HTTP route of the public interface."""

    server = JsonWebServer()

    def __init__(
        self,
        method: str,
        url: str,
        *,
        summary: str,
        roles: tuple[str, ...] = (PUBLIC,),
        tags: tuple[str, ...] = (),
        request_schema: type[Schema] | None = None,
        response_schema: type[Schema] | None = None,
        responses: dict[int, str] | None = None,
        operation_id: str | None = None,
        auth: bool = True,
        limit: str | None = "public",
        query: tuple[dict[str, Any], ...] = (),
        ok_status: int = 200,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.summary = summary
        self.headers = dict(headers or {})  # added to every response, errors included (CORS)
        self.query = query  # OpenAPI query parameter objects (name, description, schema, example)
        self.ok_status = ok_status
        if not roles or any(r not in KNOWN_ROLES for r in roles):
            raise ValueError(f"route {method} {url}: roles must be among {sorted(KNOWN_ROLES)}")
        if not auth and roles != (PUBLIC,):
            raise ValueError(f"route {method} {url}: only public routes may skip authentication")
        self.auth = auth
        self.limit = limit
        self.roles = roles
        self.tags = tags
        self.request_schema = request_schema
        self.response_schema = response_schema
        self.responses = responses or {}
        self.operation_id = operation_id
        super().__init__(method, url, **kwargs)

    def setup(self) -> None:
        super().setup()
        from services.gateway.auth import AccessGate

        if self.auth and not any(isinstance(d, AccessGate) for d in self.container.dependencies):
            raise RuntimeError(
                f"{self.container.service_name} serves authenticated routes without an AccessGate"
            )

    def handle_request(self, request: Request) -> Response:
        response: Response = super().handle_request(request)
        for key, value in self.headers.items():
            response.headers.setdefault(key, value)
        return response

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        status, headers, payload = 200, None, result
        if isinstance(result, tuple):
            status, headers, payload = result if len(result) == 3 else (result[0], None, result[1])
        return json_response(payload, status, headers)

    def response_from_exception(self, exc: BaseException) -> Response:
        return response_for_exception(exc)


def _gate_of(service: Any) -> Any:
    from services.gateway.auth import Gate

    for value in vars(service).values():
        if isinstance(value, Gate):
            return value
    raise RuntimeError(f"{type(service).__name__} has no AccessGate")


def api(method: str, url: str, **options: Any) -> Callable[[F], F]:
    """Declare a route of the public interface; every call is authenticated and authorised.

    ``roles`` are those that may call it (``public`` = anyone; admins may call everything);
    ``limit`` is the rate limit for anonymous callers (``public``, ``login`` or None);
    ``auth=False`` (public operational routes only) skips authentication entirely.
    The handler finds the caller in ``request.principal``.
    """
    from shared.principals import ANONYMOUS, Route

    roles = tuple(options.get("roles", (PUBLIC,)))
    route = Route(frozenset(roles), frozenset(options.get("tags", ())))
    auth = options.get("auth", True)
    limit = options.get("limit", "public")

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(self: Any, request: ApiRequest, *args: Any, **kwargs: Any) -> Any:
            request.principal = ANONYMOUS
            size = len(request.environ.get("QUERY_STRING") or "")
            if size > MAX_QUERY_BYTES:
                return error_response(
                    400,
                    "query_too_long",
                    f"the query string is {size} bytes; at most {MAX_QUERY_BYTES} are accepted",
                    {"max_bytes": MAX_QUERY_BYTES, "bytes": size},
                )
            try:
                check_parameters(request, kwargs)
                if auth:
                    gate = _gate_of(self)
                    try:
                        request.principal = gate.authenticate(request, limit)
                    except DisanError as exc:
                        status = http_status(type(exc).__name__)
                        if status in (401, 403, 429):
                            gate.denied(request, ANONYMOUS, status, exc.message)
                        raise
                    gate.check(request, request.principal, "call", route)
                return fn(self, request, *args, **kwargs)
            except (DisanError, SchemaValidationError, RemoteError, HTTPException) as exc:
                # a client's mistake is answered, not logged as a worker failure with traceback
                response = response_for_exception(exc)
                if response.status_code >= 500 and response.status_code != 503:
                    raise
                return response

        return ApiRoute.decorator(method, url, **options)(guarded)  # type: ignore[no-any-return]

    return decorator
