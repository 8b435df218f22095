"""IIIF Authorization Flow 2.0 documents (iiif/auth.py) against the spec's shapes."""

from __future__ import annotations

import json
import re

import pytest

from iiif import auth

BASE = "https://disan.example.vn/"


def test_probe_service_nests_access_token_and_logout_services() -> None:
    probe = auth.probe_service(BASE, "a1b2")
    assert probe["id"] == "https://disan.example.vn/iiif/auth/2/probe/asset/a1b2"
    assert probe["type"] == "AuthProbeService2"
    (access,) = probe["service"]
    assert access["type"] == "AuthAccessService2"
    assert access["profile"] == "active"
    assert access["id"] == "https://disan.example.vn/iiif/auth/2/access"
    for key in ("label", "heading", "note", "confirmLabel"):
        assert list(access[key]) == ["vi", "en"], key
        assert all(isinstance(v, list) and v and v[0] for v in access[key].values())
    token, logout = access["service"]
    assert token == {
        "id": "https://disan.example.vn/iiif/auth/2/token",
        "type": "AuthAccessTokenService2",
    }
    assert logout["type"] == "AuthLogoutService2"
    assert logout["id"] == "https://disan.example.vn/iiif/auth/2/logout"
    assert logout["label"]["vi"] == ["Đăng xuất"]


def test_access_service_is_the_same_for_every_resource() -> None:
    one = auth.probe_service(BASE, "x")["service"][0]
    two = auth.probe_service(BASE, "y", kind="record")["service"][0]
    assert one == two


def test_probe_ids_are_percent_encoded_and_kinds_checked() -> None:
    assert auth.probe_service_url(BASE, "a/b?c").endswith("/probe/asset/a%2Fb%3Fc")
    assert auth.probe_service_url(BASE, "r1", "record").endswith("/probe/record/r1")
    with pytest.raises(ValueError):
        auth.probe_service_url(BASE, "x", "manifest")
    with pytest.raises(ValueError):
        auth.probe_service_url(BASE, "")


@pytest.mark.parametrize("status", [200, 401, 403])
def test_probe_result_shapes(status: int) -> None:
    result = auth.probe_result(status)
    assert result["@context"] == auth.CONTEXT
    assert result["type"] == "AuthProbeResult2"
    assert result["status"] == status
    if status == 200:
        assert "heading" not in result
    else:
        assert set(result["heading"]) == {"vi", "en"}
        assert set(result["note"]) == {"vi", "en"}
    assert auth.probe_result(401)["heading"] != auth.probe_result(403)["heading"]


def test_probe_result_refuses_unknown_status() -> None:
    with pytest.raises(ValueError):
        auth.probe_result(500)


def test_access_token_message() -> None:
    msg = auth.access_token("tok", 900, "m-1")
    assert msg == {
        "@context": auth.CONTEXT,
        "type": "AuthAccessToken2",
        "accessToken": "tok",
        "expiresIn": 900,
        "messageId": "m-1",
    }


@pytest.mark.parametrize("profile", sorted(auth.TOKEN_ERROR_PROFILES))
def test_access_token_errors(profile: str) -> None:
    msg = auth.access_token_error(profile, "7")
    assert msg["type"] == "AuthAccessTokenError2"
    assert msg["profile"] == profile
    assert msg["messageId"] == "7"
    assert set(msg["note"]) == {"vi", "en"}


def test_access_token_error_refuses_unknown_profile() -> None:
    with pytest.raises(ValueError):
        auth.access_token_error("nope", "1")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://viewer.example.org", "https://viewer.example.org"),
        ("https://Viewer.Example.org:443", "https://viewer.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:80/", "http://localhost"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("javascript:alert(1)", None),
        ("https://a.example/path", None),
        ("https://a.example?x=1", None),
        ("https://a.example#f", None),
        ("https://user@a.example", None),
        ("https://a.example:99999", None),
        ("ftp://a.example", None),
        ("null", None),
        ("*", None),
        ("", None),
        (None, None),
        ("https://a.example\n", None),
        ("https://ví.example", None),
    ],
)
def test_normalise_origin(given: str | None, expected: str | None) -> None:
    assert auth.normalise_origin(given) == expected


def test_token_page_posts_only_to_the_origin_and_cannot_break_out_of_the_script() -> None:
    hostile = auth.access_token_error("invalidRequest", "</script><script>alert(1)</script>")
    page = auth.token_message_page(hostile, "https://viewer.example.org")
    assert page.count("<script") == 1 and page.count("</script>") == 1
    call = re.search(r"window\.parent\.postMessage\((.*), (\"[^\"]*\")\);", page)
    assert call is not None
    assert json.loads(call.group(2)) == "https://viewer.example.org"
    assert json.loads(call.group(1))["messageId"] == hostile["messageId"]


def test_token_page_refuses_a_wildcard_or_unnormalised_origin() -> None:
    for origin in ("*", "https://A.example", "https://a.example/x"):
        with pytest.raises(ValueError):
            auth.token_message_page({"type": "AuthAccessToken2"}, origin)


def test_token_page_carries_the_csp_nonce() -> None:
    page = auth.token_message_page({"type": "AuthAccessToken2"}, "https://a.example", "n0Nce+/=")
    assert '<script nonce="n0Nce+/=">' in page
    with pytest.raises(ValueError):
        auth.token_message_page({}, "https://a.example", 'x" onload="alert(1)')
