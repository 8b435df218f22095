"""Errors that cross service boundaries, the one table mapping them to HTTP status, and the one
error format of every HTTP surface in the caller's language.

A service raises one of these (or a subclass); nameko carries its type name and message over RPC
as a ``RemoteError``; the gateway maps the type name to a status with ``http_status``.

Messages are written in English with their particulars (ids, fields, limits). An HTTP surface
answers in the caller's language (``Accept-Language``: ``vi`` by default, ``en``): the message
becomes the refusal's sentence in that language, from ``details.text`` where the surface gives
one, else from ``REFUSAL_TEXT`` by ``code``, followed by the particulars (ADR 0045).
"""

from __future__ import annotations

import re
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


LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

# one sentence per stable code, Vietnamese first; the message's particulars follow it
REFUSAL_TEXT: dict[str, dict[str, str]] = {
    "error": {"vi": "Yêu cầu không thực hiện được", "en": "The request cannot be done"},
    "bad_request": {"vi": "Yêu cầu không hợp lệ", "en": "Bad request"},
    "validation_failed": {"vi": "Dữ liệu không hợp lệ", "en": "Invalid data"},
    "unauthorized": {"vi": "Cần đăng nhập", "en": "Sign-in required"},
    "forbidden": {"vi": "Không có quyền", "en": "Not allowed"},
    "not_found": {"vi": "Không tìm thấy", "en": "Not found"},
    "method_not_allowed": {
        "vi": "Phương thức không được hỗ trợ ở địa chỉ này",
        "en": "Method not allowed here",
    },
    "conflict": {"vi": "Xung đột với trạng thái hiện tại", "en": "Conflict with the current state"},
    "idempotency_key_reused": {
        "vi": "Khóa idempotency đã dùng cho một yêu cầu khác",
        "en": "The idempotency key was used for another request",
    },
    "precondition_failed": {
        "vi": "Dữ liệu đã thay đổi từ lần đọc trước",
        "en": "The data changed since it was read",
    },
    "precondition_required": {
        "vi": "Cần gửi kèm If-Match (ETag đã đọc)",
        "en": "If-Match (the ETag read) is required",
    },
    "payload_too_large": {"vi": "Nội dung gửi quá lớn", "en": "The body is too large"},
    "too_large": {"vi": "Yêu cầu vượt giới hạn", "en": "The request is over the limit"},
    "unsupported_media_type": {
        "vi": "Định dạng nội dung không được nhận",
        "en": "Unsupported media type",
    },
    "rate_limited": {"vi": "Quá nhiều yêu cầu, hãy thử lại sau", "en": "Too many requests"},
    "unavailable": {
        "vi": "Dịch vụ tạm thời không sẵn sàng",
        "en": "The service is unavailable for now",
    },
    "overloaded": {"vi": "Máy chủ đang bận", "en": "The server is busy"},
    "not_implemented": {"vi": "Chức năng chưa được hỗ trợ", "en": "Not implemented"},
    "method_not_found": {"vi": "Chức năng chưa được hỗ trợ", "en": "Not implemented"},
    "unknown_service": {
        "vi": "Dịch vụ tạm thời không sẵn sàng",
        "en": "The service is unavailable for now",
    },
    "query_too_long": {"vi": "Chuỗi truy vấn quá dài", "en": "The query string is too long"},
    "uri_too_long": {"vi": "Địa chỉ URL quá dài", "en": "The URL is too long"},
    "header_too_large": {"vi": "Tiêu đề yêu cầu quá lớn", "en": "Request headers too large"},
    "internal_error": {"vi": "Lỗi hệ thống", "en": "Internal error"},
}

_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$"
)


def negotiate_language(accept_language: str | None) -> str:
    """``vi`` or ``en`` from an ``Accept-Language`` header: the one with the highest weight
    (``en-GB`` counts as ``en``; ``*`` and anything unknown or malformed mean ``vi``)."""
    best, weight = DEFAULT_LANGUAGE, 0.0
    for part in (accept_language or "")[:1000].split(",")[:20]:
        match = _RANGE.match(part)
        if match is None:
            continue
        tag = match.group(1).lower()
        try:
            q = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if tag in LANGUAGES and q > weight:
            best, weight = tag, q
    return best


def refusal_text(code: str, details: Any = None) -> dict[str, str]:
    """A refusal's sentence in vi and en: the surface's own ``details.text`` if it gives one,
    else the code's."""
    text = details.get("text") if isinstance(details, dict) else None
    if isinstance(text, dict) and all(isinstance(text.get(lang), str) for lang in LANGUAGES):
        return {lang: text[lang] for lang in LANGUAGES}
    return REFUSAL_TEXT.get(code, REFUSAL_TEXT["error"])


def localised_message(code: str, message: str, details: Any = None, language: str = "vi") -> str:
    """The message in ``language``: the refusal's sentence, then the English particulars."""
    sentence = refusal_text(code, details)[language if language in LANGUAGES else "vi"]
    sentence = sentence.rstrip(". ")
    particulars = message.strip()
    return f"{sentence}: {particulars}" if particulars else sentence


def error_body(
    code: str, message: str, details: Any = None, language: str | None = None
) -> dict[str, Any]:
    """The one error format of every HTTP surface; ``language`` (vi or en) localises the
    message, None leaves it as raised (for a surface that localises the whole body later)."""
    if language is not None:
        message = localised_message(code, message, details, language)
    return {"error": {"code": code, "message": message, "details": details}}


def localise_body(body: Any, language: str) -> bool:
    """Localise an error body built with ``language=None`` in place; False if it is not one."""
    error = body.get("error") if isinstance(body, dict) and len(body) == 1 else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return False
    if not isinstance(error.get("message"), str):
        return False
    error["message"] = localised_message(
        error["code"], error["message"], error.get("details"), language
    )
    return True
