from __future__ import annotations

import pytest

from services.imageserver.access import Credentials, Decision, PublicAccess


def test_every_asset_is_public_until_the_access_service_says_otherwise() -> None:
    decision = PublicAccess().check("any", Credentials())
    assert decision.allowed and decision.public


def test_credentials_are_read_from_bearer_and_cookies() -> None:
    creds = Credentials.from_headers("Bearer abc.def", "a=1; disan_token=xyz; broken")
    assert creds.bearer == "abc.def"
    assert creds.cookies == {"a": "1", "disan_token": "xyz"}
    assert Credentials.from_headers("Basic Zm9v", None).bearer is None


def test_a_denial_is_401_or_403_with_auth_services() -> None:
    service = {"id": "https://example.org/auth/access", "type": "AuthAccessService2"}
    decision = Decision.deny(401, "log in", (service,))
    assert not decision.allowed and not decision.public and decision.services == (service,)
    with pytest.raises(ValueError):
        Decision.deny(500, "no")
