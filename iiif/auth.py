"""IIIF Authorization Flow 2.0: service descriptions and messages (https://iiif.io/api/auth/2.0/).

Pure: plain dicts ready for ``json.dumps`` and the one HTML page the token service answers.
The platform's URLs (recorded in ``docs/decisions/0032-iiif-auth-flow.md``) are, under
``{base}/iiif/auth/2``: ``probe/{kind}/{id}`` (one probe service per image or content
resource), ``access`` (active profile: log in with the platform's account), ``token`` (the
access token service, opened in an iframe with ``messageId`` and ``origin``) and ``logout``.
Every user-visible text is a vi/en language map, Vietnamese first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit

__all__ = [
    "ACCESS_PATH",
    "CONTEXT",
    "LOGOUT_PATH",
    "PROBE_KINDS",
    "PROBE_PREFIX",
    "TOKEN_ERROR_PROFILES",
    "TOKEN_PATH",
    "LanguageMap",
    "access_service",
    "access_service_url",
    "access_token",
    "access_token_error",
    "logout_service_url",
    "normalise_origin",
    "probe_result",
    "probe_service",
    "probe_service_url",
    "token_message_page",
    "token_service_url",
]

CONTEXT: Final = "http://iiif.io/api/auth/2/context.json"
PREFIX: Final = "/iiif/auth/2"
PROBE_PREFIX: Final = f"{PREFIX}/probe"
ACCESS_PATH: Final = f"{PREFIX}/access"
TOKEN_PATH: Final = f"{PREFIX}/token"
LOGOUT_PATH: Final = f"{PREFIX}/logout"
#: What a probe service may guard: an image (or any other media asset) or a record.
PROBE_KINDS: Final = ("asset", "record")
#: Profiles of ``AuthAccessTokenError2`` (section 5.2.3 of the spec).
TOKEN_ERROR_PROFILES: Final = frozenset(
    {
        "invalidRequest",
        "invalidOrigin",
        "missingAspect",
        "expiredAspect",
        "invalidAspect",
        "unavailable",
    }
)

LanguageMap = dict[str, list[str]]


def _lm(vi: str, en: str) -> LanguageMap:
    return {"vi": [vi], "en": [en]}


#: Texts of the active access service and of refusals (language maps, Vietnamese first).
ACCESS_LABEL: Final = _lm("Đăng nhập Disan", "Log in to Disan")
ACCESS_HEADING: Final = _lm(
    "Tài liệu này chỉ dành cho người dùng được cấp quyền",
    "This item is available to authorised users only",
)
ACCESS_NOTE: Final = _lm(
    "Đăng nhập bằng tài khoản Disan của bạn (nhà nghiên cứu hoặc cán bộ) để xem tài liệu.",
    "Log in with your Disan account (researcher or staff) to see this item.",
)
ACCESS_CONFIRM: Final = _lm("Đăng nhập", "Log in")
LOGOUT_LABEL: Final = _lm("Đăng xuất", "Log out")
DENIED_HEADING: Final = _lm("Không đủ quyền truy cập", "Access denied")
DENIED_NOTE: Final = _lm(
    "Tài khoản của bạn không được phép xem tài liệu này.",
    "Your account is not allowed to see this item.",
)
TOKEN_ERROR_NOTES: Final[Mapping[str, LanguageMap]] = {
    "invalidRequest": _lm("Yêu cầu không hợp lệ.", "The request is not valid."),
    "invalidOrigin": _lm(
        "Trang xem này không được phép nhận mã truy cập.",
        "This viewer is not allowed to receive access tokens.",
    ),
    "missingAspect": _lm("Bạn chưa đăng nhập.", "You are not logged in."),
    "expiredAspect": _lm("Phiên đăng nhập đã hết hạn.", "Your session has expired."),
    "invalidAspect": _lm("Phiên đăng nhập không hợp lệ.", "Your session is not valid."),
    "unavailable": _lm(
        "Dịch vụ tạm thời không phản hồi.", "The service is temporarily unavailable."
    ),
}


def _copy(text: LanguageMap) -> LanguageMap:
    """A fresh copy, so a caller editing a document never edits the shared texts."""
    return {lang: list(values) for lang, values in text.items()}


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def probe_service_url(base_url: str, resource_id: str, kind: str = "asset") -> str:
    """URL of the probe service of one resource (``kind`` ``asset`` or ``record``)."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"kind must be one of {PROBE_KINDS}")
    if not resource_id:
        raise ValueError("resource_id must not be empty")
    return f"{_base(base_url)}{PROBE_PREFIX}/{kind}/{quote(resource_id, safe='')}"


def access_service_url(base_url: str) -> str:
    return f"{_base(base_url)}{ACCESS_PATH}"


def token_service_url(base_url: str) -> str:
    return f"{_base(base_url)}{TOKEN_PATH}"


def logout_service_url(base_url: str) -> str:
    return f"{_base(base_url)}{LOGOUT_PATH}"


def access_service(base_url: str) -> dict[str, Any]:
    """The platform's one ``AuthAccessService2`` (active profile) with its token and logout."""
    return {
        "id": access_service_url(base_url),
        "type": "AuthAccessService2",
        "profile": "active",
        "label": _copy(ACCESS_LABEL),
        "heading": _copy(ACCESS_HEADING),
        "note": _copy(ACCESS_NOTE),
        "confirmLabel": _copy(ACCESS_CONFIRM),
        "service": [
            {"id": token_service_url(base_url), "type": "AuthAccessTokenService2"},
            {
                "id": logout_service_url(base_url),
                "type": "AuthLogoutService2",
                "label": _copy(LOGOUT_LABEL),
            },
        ],
    }


def probe_service(base_url: str, resource_id: str, kind: str = "asset") -> dict[str, Any]:
    """The ``AuthProbeService2`` of a restricted resource, to put in its ``service`` list.

    Goes into info.json (images) and onto content resources in manifests. The nested access
    service has the same ``id`` for every resource, so a viewer logs in once for all of them.
    """
    return {
        "id": probe_service_url(base_url, resource_id, kind),
        "type": "AuthProbeService2",
        "service": [access_service(base_url)],
    }


def probe_result(
    status: int,
    *,
    heading: LanguageMap | None = None,
    note: LanguageMap | None = None,
    location: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``AuthProbeResult2``: 200 (the client may use the resource), 401, 403 or 404.

    Without ``heading``/``note``, a 401 says how to get access and a 403 that the account
    does not have it.
    """
    if status not in (200, 302, 401, 403, 404):
        raise ValueError("a probe result's status is 200, 302, 401, 403 or 404")
    doc: dict[str, Any] = {"@context": CONTEXT, "type": "AuthProbeResult2", "status": status}
    if status == 401:
        heading, note = heading or ACCESS_HEADING, note or ACCESS_NOTE
    elif status == 403:
        heading, note = heading or DENIED_HEADING, note or DENIED_NOTE
    if heading:
        doc["heading"] = _copy(heading)
    if note:
        doc["note"] = _copy(note)
    if location is not None:
        doc["location"] = dict(location)
    return doc


def access_token(token: str, expires_in: int, message_id: str) -> dict[str, Any]:
    """The token service's message ``AuthAccessToken2``."""
    if not token:
        raise ValueError("an access token must not be empty")
    return {
        "@context": CONTEXT,
        "type": "AuthAccessToken2",
        "accessToken": token,
        "expiresIn": max(0, int(expires_in)),
        "messageId": message_id,
    }


def access_token_error(
    profile: str, message_id: str, note: LanguageMap | None = None
) -> dict[str, Any]:
    """The token service's error message ``AuthAccessTokenError2``."""
    if profile not in TOKEN_ERROR_PROFILES:
        raise ValueError(f"profile must be one of {sorted(TOKEN_ERROR_PROFILES)}")
    return {
        "@context": CONTEXT,
        "type": "AuthAccessTokenError2",
        "profile": profile,
        "note": _copy(note or TOKEN_ERROR_NOTES[profile]),
        "messageId": message_id,
    }


def normalise_origin(origin: str | None) -> str | None:
    """``scheme://host[:port]`` of a web origin, or None if ``origin`` is not exactly one.

    Only http(s), no user info, path, query or fragment; host lower-cased and default ports
    dropped, so it compares equal to what a browser puts in ``MessageEvent.origin``.
    """
    if not origin or len(origin) > 300 or any(ord(c) < 0x21 or ord(c) > 0x7E for c in origin):
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "#" in origin:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


def _script_json(value: Any) -> str:
    """JSON safe inside an HTML ``<script>`` element (no ``</script>``, no line separators)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def token_message_page(message: Mapping[str, Any], origin: str, nonce: str = "") -> str:
    """The token service's HTML: posts ``message`` to the parent window at ``origin`` only.

    ``origin`` must come from :func:`normalise_origin` (the page never posts to ``*``);
    ``nonce`` is the Content-Security-Policy script nonce, if the response sends one.
    """
    if normalise_origin(origin) != origin:
        raise ValueError("origin must be a normalised web origin")
    if not re.fullmatch(r"[A-Za-z0-9+/=_-]{0,100}", nonce):
        raise ValueError("a nonce is base64 text")
    opening = f'<script nonce="{nonce}">' if nonce else "<script>"
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>Disan</title></head><body>{opening}"
        f"window.parent.postMessage({_script_json(dict(message))}, {_script_json(origin)});"
        "</script></body></html>"
    )
