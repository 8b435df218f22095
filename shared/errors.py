"""Errors that cross service boundaries, and the one table mapping them to HTTP status.

A service raises one of these (or a subclass); nameko carries its type name and message over RPC
as a ``RemoteError``; the gateway maps the type name to a status with ``http_status``.
"""

from __future__ import annotations

from typing import Any


class DisanError(Exception):
    """Base of errors meant for clients: a stable ``code`` and a readable message."""

    code = "error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class BadRequest(DisanError):
    code = "bad_request"


class ValidationFailed(DisanError):
    code = "validation_failed"


class Unauthorized(DisanError):
    code = "unauthorized"


class Forbidden(DisanError):
    code = "forbidden"


class NotFound(DisanError):
    code = "not_found"


class Conflict(DisanError):
    code = "conflict"


class PreconditionFailed(DisanError):
    code = "precondition_failed"


class PreconditionRequired(DisanError):
    """The request must be conditional (``If-Match``) and was not: HTTP 428."""

    code = "precondition_required"


class PayloadTooLarge(DisanError):
    code = "payload_too_large"


class UnsupportedMediaType(DisanError):
    code = "unsupported_media_type"


class RateLimited(DisanError):
    code = "rate_limited"


class Unavailable(DisanError):
    code = "unavailable"


HTTP_STATUS: dict[str, int] = {
    "BadRequest": 400,
    "ValidationFailed": 422,
    "ValidationError": 422,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "PreconditionFailed": 412,
    "PreconditionRequired": 428,
    "PayloadTooLarge": 413,
    "UnsupportedMediaType": 415,
    "RateLimited": 429,
    "Unavailable": 503,
    "MethodNotFound": 501,
    "UnknownService": 503,
}

CODES: dict[str, str] = {cls.__name__: cls.code for cls in DisanError.__subclasses__()}


def http_status(error_type: str) -> int:
    """The HTTP status for an error type name; anything unknown is a 500."""
    return HTTP_STATUS.get(error_type, 500)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error format of every HTTP surface."""
    return {"error": {"code": code, "message": message, "details": details}}
