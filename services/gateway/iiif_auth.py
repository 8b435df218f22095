"""IIIF Authorization Flow 2.0 at the gateway (docs/decisions/0032-iiif-auth-flow.md).

Under ``/iiif/auth/2``: ``probe/{asset|record}/{id}`` answers an ``AuthProbeResult2`` for the
bearer of the token service's token; ``access`` is the active access service (a vi/en login
page with the platform's account, CSRF-safe, setting the HttpOnly session cookie);
``token`` is the access token service (an iframe page posting the token to the viewer's
validated origin); ``logout`` ends the session. Every route is public by nature: the
credential each one needs (the token, the cookie, the password) is checked in the handler.
"""

from __future__ import annotations

import hmac
import html
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from iiif import auth as iiif_auth
from services.gateway.http import PUBLIC, ApiRequest, api, json_response
from shared import principals as domain
from shared.errors import (
    BadRequest,
    DisanError,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
)

COOKIE = domain.IIIF_SESSION_COOKIE
COOKIE_PATH = "/iiif"
CSRF_COOKIE = "disan_iiif_csrf"
MAX_ID = 128
MAX_MESSAGE_ID = 256
MAX_FORM_BYTES = 10_000
PROBE_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Max-Age": "86400",
    "Cache-Control": "no-store",
    "Vary": "Authorization",
}
TAGS = ("iiif-auth",)
PROBE = f"{iiif_auth.PROBE_PREFIX}/<any(asset,record):kind>/<path:resource_id>"

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.4rem}"
    "button{margin-top:1rem;padding:.5rem 1.2rem}.en{color:#555}.error{color:#a00}"
)


def _t(text: iiif_auth.LanguageMap) -> str:
    """A language map as HTML: Vietnamese, then English."""
    vi, en = html.escape(text["vi"][0]), html.escape(text["en"][0])
    return f'{vi}<br><span class="en" lang="en">{en}</span>'


def _page(title: iiif_auth.LanguageMap, body: str, status: int = 200, close: bool = False) -> Any:
    """An HTML page with a strict CSP; ``close`` adds the one script (closing the window)."""
    nonce = secrets.token_urlsafe(16)
    script = f'<script nonce="{nonce}">window.close();</script>' if close else ""
    document = (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title['vi'][0])} · {html.escape(title['en'][0])}</title>"
        f"<style>{_STYLE}</style></head><body><main><h1>{_t(title)}</h1>{body}</main>"
        f"{script}</body></html>"
    )
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return _html(document, status, csp)


def _html(document: str, status: int, csp: str) -> Response:
    """An uncacheable HTML response under ``csp``."""
    response = Response(document, status=status, content_type="text/html; charset=utf-8")
    response.headers.update(
        {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            # not no-referrer: under it browsers post our own forms with "Origin: null", which
            # the login's same-origin check refuses; same-origin sends no referrer elsewhere
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        }
    )
    return response


class IiifAuthRoutes:
    """Mixed into the gateway service (which provides ``gate`` and ``settings``)."""

    gate: Any
    settings: Any

    # cookies ---------------------------------------------------------------------------------
    def _secure(self) -> bool:
        return bool(self.settings.production or self.settings.public_url.startswith("https:"))

    def _set_cookie(
        self, response: Response, name: str, value: str, max_age: int, **kw: Any
    ) -> None:
        secure = self._secure()
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=kw.get("path", COOKIE_PATH),
            secure=secure,
            httponly=True,
            # cross-site viewers need the session cookie (None needs Secure); CSRF stays Strict
            samesite=kw.get("samesite") or ("None" if secure else "Lax"),
        )

    def _allowed_origins(self) -> set[str]:
        """Origins the token service posts tokens to: ``extra.iiif_auth.origins`` + our own."""
        conf = (self.settings.extra or {}).get("iiif_auth") or {}
        raw = conf.get("origins") or []
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        allowed = {o.strip() for o in items if str(o).strip() == "*"}
        allowed |= {n for n in (iiif_auth.normalise_origin(str(o).strip()) for o in items) if n}
        own = iiif_auth.normalise_origin(self._origin_of(self.settings.public_url))
        return allowed | ({own} if own else set())

    @staticmethod
    def _origin_of(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    # probe -------------------------------------------------------------------------------------
    @api(
        "GET",
        PROBE,
        summary="IIIF Auth 2.0 probe: may the bearer of this token use the asset or record?",
        tags=TAGS,
        roles=(PUBLIC,),
        auth=False,  # authenticates in the handler: a bad token is a probe result, not an error
        responses={200: "an AuthProbeResult2 whose status is 200, 401 or 403"},
    )
    def iiif_auth_probe(self, request: ApiRequest, kind: str, resource_id: str) -> Any:
        if not 0 < len(resource_id) <= MAX_ID:
            raise BadRequest(f"an identifier has 1 to {MAX_ID} characters")
        try:
            principal = self.gate.authenticate(request, "public")
            policy = self.gate.policy(kind, resource_id)
            decision = domain.authorize(
                principal, "read", domain.Item(kind, resource_id, policy), datetime.now(UTC)
            )
            status = 200 if decision.allowed else decision.status
        except Unauthorized:
            status = 401  # an expired or revoked token: the viewer gets a new one
        except DisanError as exc:
            response = json_response(*_error_payload(exc))
            response.headers.update(PROBE_CORS)
            return response
        return json_response(iiif_auth.probe_result(status), 200, PROBE_CORS)

    @api(
        "OPTIONS",
        PROBE,
        summary="CORS preflight of the probe service (it is called with an Authorization header)",
        tags=TAGS,
        roles=(PUBLIC,),
    )
    def iiif_auth_probe_preflight(self, request: ApiRequest, kind: str, resource_id: str) -> Any:
        return Response(status=204, headers=PROBE_CORS)

    # access service (active profile) -----------------------------------------------------------
    def _login_page(
        self, origin: str, username: str = "", error: str = "", status: int = 200
    ) -> Any:
        csrf = secrets.token_urlsafe(24)
        message = f'<p class="error" role="alert">{error}</p>' if error else ""
        body = (
            f"<p>{_t(iiif_auth.ACCESS_NOTE)}</p>{message}"
            f'<form method="post" action="{iiif_auth.ACCESS_PATH}">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="origin" value="{html.escape(origin)}">'
            '<label>Tên đăng nhập <span class="en" lang="en">Username</span>'
            f'<input name="username" autocomplete="username" required maxlength="256" '
            f'value="{html.escape(username)}"></label>'
            '<label>Mật khẩu <span class="en" lang="en">Password</span>'
            '<input type="password" name="password" autocomplete="current-password" required '
            'maxlength="1024"></label>'
            f'<button type="submit">{html.escape(iiif_auth.ACCESS_CONFIRM["vi"][0])} · '
            f"{html.escape(iiif_auth.ACCESS_CONFIRM['en'][0])}</button></form>"
        )
        response = _page(iiif_auth.ACCESS_LABEL, body, status)
        self._set_cookie(
            response, CSRF_COOKIE, csrf, 1800, path=iiif_auth.ACCESS_PATH, samesite="Strict"
        )
        return response

    def _logged_in_page(self, username: str) -> Any:
        body = (
            f"<p>{_t(_LOGGED_IN)}</p><p><strong>{html.escape(username)}</strong></p>"
            f"<p>{_t(_CLOSE)}</p>"
        )
        return _page(iiif_auth.ACCESS_LABEL, body, close=True)

    @api(
        "GET",
        iiif_auth.ACCESS_PATH,
        summary="IIIF Auth 2.0 access service (active): the login page (HTML, vi/en)",
        tags=TAGS,
        roles=(PUBLIC,),
    )
    def iiif_auth_access(self, request: ApiRequest) -> Any:
        origin = iiif_auth.normalise_origin(request.args.get("origin")) or ""
        session = request.cookies.get(COOKIE)
        if session:
            try:
                who = self.gate.call("check_iiif_session", session)
                return self._logged_in_page(str(who["principal"]["name"]))
            except Unauthorized:
                pass  # an old or revoked cookie: log in again
        return self._login_page(origin)

    @api(
        "POST",
        iiif_auth.ACCESS_PATH,
        summary="IIIF Auth 2.0 access service: log in (form), set the session cookie",
        tags=TAGS,
        roles=(PUBLIC,),
        limit="login",
        responses={401: "wrong username or password", 403: "missing or wrong CSRF token"},
    )
    def iiif_auth_login(self, request: ApiRequest) -> Any:
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
        if request.mimetype != "application/x-www-form-urlencoded":
            raise BadRequest("send the login form as application/x-www-form-urlencoded")
        request.max_form_memory_size = MAX_FORM_BYTES
        form = request.form
        origin = iiif_auth.normalise_origin(form.get("origin")) or ""
        sent = form.get("csrf", "")
        expected = request.cookies.get(CSRF_COOKIE, "")
        header_origin = request.headers.get("Origin")
        own = {self._origin_of(self.settings.public_url), self._origin_of(request.host_url)}
        if (
            not expected
            or not hmac.compare_digest(sent.encode(), expected.encode())
            or (header_origin is not None and header_origin not in own)
        ):
            return self._login_page(origin, error=_t(_CSRF), status=403)
        username, password = form.get("username", ""), form.get("password", "")
        try:
            opened = self.gate.call(
                "open_iiif_session", username, password, self.gate.client_ip(request)
            )
        except Unauthorized:
            return self._login_page(origin, username[:256], _t(_WRONG), 401)
        except RateLimited:
            return self._login_page(origin, username[:256], _t(_LOCKED), 429)
        response = self._logged_in_page(str(opened["username"]))
        self._set_cookie(response, COOKIE, opened["session"], int(opened["expires_in"]))
        response.delete_cookie(CSRF_COOKIE, path=iiif_auth.ACCESS_PATH)
        return response

    # access token service ------------------------------------------------------------------------
    @api(
        "GET",
        iiif_auth.TOKEN_PATH,
        summary=(
            "IIIF Auth 2.0 access token service: ?messageId=&origin= (iframe); posts an "
            "AuthAccessToken2 or AuthAccessTokenError2 to that origin only"
        ),
        tags=TAGS,
        roles=(PUBLIC,),
    )
    def iiif_auth_token(self, request: ApiRequest) -> Any:
        origin = iiif_auth.normalise_origin(request.args.get("origin"))
        message_id = request.args.get("messageId", "")
        if origin is None:
            # nowhere safe to post to: a page without any script
            return _page(_INVALID_REQUEST, f"<p>{_t(_NO_ORIGIN)}</p>", 400)
        if not 0 < len(message_id) <= MAX_MESSAGE_ID or not message_id.isprintable():
            return self._post(origin, iiif_auth.access_token_error("invalidRequest", ""), 400)
        allowed = self._allowed_origins()
        if origin not in allowed and "*" not in allowed:
            return self._post(origin, iiif_auth.access_token_error("invalidOrigin", message_id))
        session = request.cookies.get(COOKIE)
        if not session:
            return self._post(origin, iiif_auth.access_token_error("missingAspect", message_id))
        try:
            issued = self.gate.call("iiif_session_token", session)
        except Unauthorized as exc:
            profile = "expiredAspect" if "expired" in exc.message else "invalidAspect"
            return self._post(origin, iiif_auth.access_token_error(profile, message_id))
        except Unavailable:
            return self._post(origin, iiif_auth.access_token_error("unavailable", message_id))
        message = iiif_auth.access_token(issued["access_token"], issued["expires_in"], message_id)
        return self._post(origin, message)

    def _post(self, origin: str, message: dict[str, Any], status: int = 200) -> Any:
        nonce = secrets.token_urlsafe(16)
        page = iiif_auth.token_message_page(message, origin, nonce)
        csp = f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; "
        return _html(page, status, csp + f"frame-ancestors {origin}")

    # logout --------------------------------------------------------------------------------------
    @api(
        "GET",
        iiif_auth.LOGOUT_PATH,
        summary="IIIF Auth 2.0 logout service: end the session and its tokens (HTML, vi/en)",
        tags=TAGS,
        roles=(PUBLIC,),
    )
    def iiif_auth_logout(self, request: ApiRequest) -> Any:
        session = request.cookies.get(COOKIE)
        if session:
            self.gate.call("close_iiif_session", session)
        response = _page(iiif_auth.LOGOUT_LABEL, f"<p>{_t(_LOGGED_OUT)}</p>")
        response.delete_cookie(
            COOKIE,
            path=COOKIE_PATH,
            secure=self._secure(),
            httponly=True,
            samesite="None" if self._secure() else "Lax",
        )
        return response


def _error_payload(exc: DisanError) -> tuple[dict[str, Any], int]:
    from shared.errors import error_body, http_status

    return error_body(exc.code, exc.message, exc.details), http_status(type(exc).__name__)


def _lm(vi: str, en: str) -> iiif_auth.LanguageMap:
    return {"vi": [vi], "en": [en]}


_LOGGED_IN = _lm("Bạn đã đăng nhập.", "You are logged in.")
_CLOSE = _lm("Bạn có thể đóng cửa sổ này.", "You may close this window.")
_WRONG = _lm("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.")
_LOCKED = _lm(
    "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
    "Too many failed logins; please try again later.",
)
_CSRF = _lm(
    "Phiên biểu mẫu đã hết hạn; vui lòng thử lại.",
    "The form has expired; please try again.",
)
_LOGGED_OUT = _lm("Bạn đã đăng xuất.", "You are logged out.")
_INVALID_REQUEST = _lm("Yêu cầu không hợp lệ", "Invalid request")
_NO_ORIGIN = _lm(
    "Tham số origin bị thiếu hoặc không hợp lệ.", "The origin parameter is missing or not valid."
)
