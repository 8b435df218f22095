"""Access tokens: signed, rotated by kid, and every forgery refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.auth import (
    TokenClaims,
    TokenError,
    is_stale,
    issue_access_token,
    verify_access_token,
)
from shared.config import AccessSettings, ConfigError

OLD = "old-secret-0123456789abcdefghijklmnopqrstu"
NEW = "new-secret-0123456789abcdefghijklmnopqrstu"
KEYS = {"k2": NEW, "k1": OLD}


def token(kid: str = "k2", ttl: int = 60, now: float | None = None, keys=None) -> str:
    value, _ = issue_access_token(
        keys or KEYS,
        kid,
        subject="u1",
        username="lan",
        roles=["researcher"],
        ttl_seconds=ttl,
        now=now,
    )
    return value


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_gives_its_claims():
    claims = verify_access_token(token(), KEYS)
    assert claims.subject == "u1" and claims.username == "lan" and claims.roles == ("researcher",)
    assert claims.expires_at - claims.issued_at == 60


def test_token_signed_with_the_previous_key_still_verifies_during_rotation():
    assert verify_access_token(token("k1"), KEYS).subject == "u1"


def test_token_of_a_retired_key_is_refused():
    with pytest.raises(TokenError, match="unknown key"):
        verify_access_token(token("k1"), {"k2": NEW})


def test_token_signed_with_another_secret_under_a_known_kid_is_refused():
    forged = token("k2", keys={"k2": "attacker-secret-0123456789abcdefghijklmno"})
    with pytest.raises(TokenError, match="invalid token"):
        verify_access_token(forged, KEYS)


def test_expired_token_is_refused():
    with pytest.raises(TokenError, match="expired"):
        verify_access_token(token(ttl=5, now=time.time() - 60), KEYS)


def test_alg_none_is_refused():
    header = b64({"alg": "none", "typ": "JWT", "kid": "k2"})
    payload = b64(
        {
            "sub": "u1",
            "roles": ["admin"],
            "iss": "disan",
            "typ": "access",
            "jti": "x",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        }
    )
    for forged in (f"{header}.{payload}.", f"{header}.{payload}.c2ln"):
        with pytest.raises(TokenError, match="algorithm"):
            verify_access_token(forged, KEYS)


def test_other_algorithms_are_refused():
    forged = jwt.encode({"sub": "u1"}, NEW, algorithm="HS512", headers={"kid": "k2"})
    with pytest.raises(TokenError, match="algorithm"):
        verify_access_token(forged, KEYS)


def test_tampered_payload_is_refused():
    head, _payload, sig = token().split(".")
    payload = b64(
        {
            "sub": "u1",
            "name": "lan",
            "roles": ["admin"],
            "iss": "disan",
            "typ": "access",
            "jti": "x",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        }
    )
    with pytest.raises(TokenError):
        verify_access_token(f"{head}.{payload}.{sig}", KEYS)


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b", "a.b.c", "....", "x" * 5000, "é.é.é", "null.null.null"]
)
def test_malformed_tokens_are_refused(garbage):
    with pytest.raises(TokenError):
        verify_access_token(garbage, KEYS)


def test_token_without_required_claims_is_refused():
    bare = jwt.encode({"sub": "u1", "iss": "disan"}, NEW, algorithm="HS256", headers={"kid": "k2"})
    with pytest.raises(TokenError):
        verify_access_token(bare, KEYS)


def test_revoked_or_outdated_tokens_are_stale():
    claims = TokenClaims("u1", "lan", ("researcher",), "j", 100, 200, issued_at_ms=100_500)
    assert not is_stale(claims, None, None)
    assert is_stale(claims, "1", None)
    assert is_stale(claims, None, "100500")  # roles changed as it was issued: stale
    assert is_stale(claims, None, "100900")  # changed later in the same second: stale
    assert not is_stale(claims, None, "100499")  # a token issued after the change is fine
    assert is_stale(claims, None, "garbage")


def test_signing_keys_need_a_long_secret_and_parse_previous_keys():
    with pytest.raises(ConfigError):
        AccessSettings().signing_keys()
    conf = AccessSettings(token_secret=NEW, token_kid="k2", previous_token_keys=f"k1={OLD}")
    assert conf.signing_keys() == KEYS
    with pytest.raises(ConfigError):
        AccessSettings(token_secret=NEW, previous_token_keys="k1=short").signing_keys()
