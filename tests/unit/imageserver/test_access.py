from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.imageserver.access import (
    SESSION_COOKIE,
    Credentials,
    Decision,
    PolicyAccess,
    PublicAccess,
)
from shared import principals


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


# PolicyAccess: the access service's policies, decided by shared.principals.authorize ----


class FakeClient:
    """The part of AccessClient PolicyAccess uses, counting the calls."""

    def __init__(self, policies: dict[str, principals.Policy]) -> None:
        self.policies_by_id = policies
        self.policies = None
        self.policy_calls = 0
        self.decide_calls: list[tuple[str | None, str | None]] = []
        self.purged: list[tuple[str | None, str | None]] = []

    def policy(self, kind: str, resource_id: str) -> principals.Policy:
        self.policy_calls += 1
        return self.policies_by_id.get(resource_id, principals.DEFAULT_POLICY)

    def decide(
        self, bearer: str | None, kind: str, resource_id: str, session: str | None = None
    ) -> principals.Decision:
        self.decide_calls.append((bearer, session))
        users = {"researcher-token": ("researcher",), "partner-token": ("partner",)}
        if session == "is_good":
            users["session"] = ("researcher",)
            bearer = "session"
        if bearer and bearer not in users:
            return principals.Decision(False, 401, "invalid bearer token")
        principal = (
            principals.Principal("user", bearer, bearer, frozenset(users[bearer]))
            if bearer
            else principals.ANONYMOUS
        )
        item = principals.Item(kind, resource_id, self.policy(kind, resource_id))
        return principals.authorize(principal, "read", item, datetime.now(UTC))

    def purge(self, kind: str | None = None, resource_id: str | None = None) -> None:
        self.purged.append((kind, resource_id))

    def forget_sessions(self) -> None:
        return None


def _checker(**policies: principals.Policy) -> tuple[PolicyAccess, FakeClient]:
    client = FakeClient(policies)
    return PolicyAccess(client, "https://disan.test", ttl=60), client


def test_public_assets_are_served_to_anyone_without_looking_at_credentials() -> None:
    access, client = _checker()
    assert access.check("open", Credentials(bearer="garbage")) == Decision.allow_public()
    assert access.check("open", Credentials()).public
    assert client.decide_calls == [] and client.policy_calls == 1  # one lookup, then cached


def test_restricted_assets_need_a_researcher_token_or_session() -> None:
    access, _ = _checker(secret=principals.Policy(principals.RESTRICTED))
    anonymous = access.check("secret", Credentials())
    assert (anonymous.allowed, anonymous.status) == (False, 401)
    (probe,) = anonymous.services
    assert probe["id"] == "https://disan.test/iiif/auth/2/probe/asset/secret"
    assert probe["type"] == "AuthProbeService2"
    assert access.check("secret", Credentials(bearer="bad")).status == 401
    assert access.check("secret", Credentials(bearer="partner-token")).status == 403
    allowed = access.check("secret", Credentials(bearer="researcher-token"))
    assert allowed.allowed and not allowed.public and allowed.services == anonymous.services
    by_cookie = access.check("secret", Credentials(cookies={SESSION_COOKIE: "is_good"}))
    assert by_cookie.allowed
    assert access.check("secret", Credentials(cookies={SESSION_COOKIE: "is_bad"})).status == 401


def test_decisions_are_cached_per_credential_and_dropped_on_purge() -> None:
    access, client = _checker(secret=principals.Policy(principals.STAFF_ONLY))
    assert access.cached("secret", Credentials(bearer="researcher-token")) is None
    assert access.check("secret", Credentials(bearer="researcher-token")).status == 403
    assert access.cached("secret", Credentials(bearer="researcher-token")) is not None
    assert access.cached("secret", Credentials(bearer="partner-token")) is None  # not shared
    assert access.cached("secret", Credentials()) is None
    access.purge("secret")
    assert access.cached("secret", Credentials(bearer="researcher-token")) is None
    assert client.purged[-1] == ("asset", "secret")
    access.check("secret", Credentials(bearer="researcher-token"))
    access.purge(None)
    assert access.cached("secret", Credentials(bearer="researcher-token")) is None
    assert client.purged[-1] == (None, None)


def test_an_ended_embargo_is_public() -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    access, _ = _checker(old=principals.Policy(principals.EMBARGOED, past))
    assert access.check("old", Credentials()).public


def test_the_decision_cache_is_bounded() -> None:
    access, _ = _checker(secret=principals.Policy(principals.RESTRICTED))
    access.max_entries = 10
    for n in range(25):
        access.check("secret", Credentials(bearer=f"token-{n}"))
    assert len(access._decisions) <= 10
