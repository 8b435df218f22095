"""The gateway's IIIF Auth 2.0 pieces that need no running service: origins, cookies, pages."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from services.gateway.iiif_auth import IiifAuthRoutes, _page


def routes(public_url: str = "http://127.0.0.1:8000", production: bool = False, **extra: Any):
    mixin = IiifAuthRoutes()
    mixin.settings = SimpleNamespace(public_url=public_url, production=production, extra=extra)
    return mixin


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, {"http://127.0.0.1:8000"}),
        ("", {"http://127.0.0.1:8000"}),
        ("https://a.example, https://B.example:443/", {"https://a.example", "https://b.example"}),
        (["https://a.example", "javascript:x", "https://c.example/path"], {"https://a.example"}),
        ("*", {"*"}),
    ],
)
def test_allowed_origins_are_normalised_and_include_our_own(configured: Any, expected: set[str]):
    extra = {} if configured is None else {"iiif_auth": {"origins": configured}}
    allowed = routes(**extra)._allowed_origins()
    assert allowed == expected | {"http://127.0.0.1:8000"}


def test_cookies_are_secure_and_cross_site_in_production_only():
    assert routes()._secure() is False
    assert routes("https://disan.haiphong.gov.vn")._secure() is True
    assert routes("http://10.0.0.1", production=True)._secure() is True
    response = _page({"vi": ["a"], "en": ["b"]}, "")
    routes("https://disan.example")._set_cookie(response, "disan_iiif", "is_x", 60)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=None" in cookie
    assert "Path=/iiif" in cookie
    response = _page({"vi": ["a"], "en": ["b"]}, "")
    routes()._set_cookie(response, "disan_iiif", "is_x", 60)
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_pages_escape_text_and_only_the_closing_script_carries_the_nonce():
    hostile = {"vi": ["<img src=x onerror=alert(1)>"], "en": ["</title><script>"]}
    response = _page(hostile, "<p>ok</p>", close=True)
    body = response.get_data(as_text=True)
    assert "<img src=x" not in body and "</title><script>" not in body
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert body.count("<script") == 1 and f'<script nonce="{nonce}">' in body
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in _page(hostile, "").get_data(as_text=True)


def test_the_login_page_lets_the_browser_send_its_origin_with_the_form() -> None:
    # under Referrer-Policy: no-referrer Chromium posts the form with "Origin: null", which the
    # login's same-origin check refuses: the real login page never worked in a browser
    # (tests/e2e/test_viewer_auth_browser.py); same-origin keeps referrers off other sites
    page = _page({"vi": ["Đăng nhập"], "en": ["Log in"]}, "<p>x</p>")
    assert page.headers["Referrer-Policy"] == "same-origin"
