"""Users and API keys created with an Idempotency-Key act once, and no secret is kept with the
remembered answer (issue 14, ADR 0010)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.access.conftest import PASSWORD

pytestmark = pytest.mark.integration


def test_a_user_created_twice_with_its_key_is_one_user_and_the_password_is_not_kept(platform):
    name, key = f"u-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    body = {"username": name, "password": PASSWORD, "roles": ["researcher"]}
    answers = [
        platform.request(
            "POST",
            "/api/v1/users",
            token=platform.token_for("admin"),
            json=body,
            headers={"Idempotency-Key": key},
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201], answers[1].text  # not 409 taken
    assert answers[1].json() == answers[0].json()
    assert len(platform.sql("SELECT id FROM users WHERE username = :n", n=name)) == 1
    kept = platform.sql("SELECT fingerprint, result FROM idempotent_requests WHERE key = :k", k=key)
    assert len(kept) == 1 and PASSWORD not in str(kept)


def test_an_api_key_created_twice_with_its_key_is_one_key_and_its_secret_is_shown_once(platform):
    key = str(uuid.uuid4())
    body = {"name": f"LGSP {key[:6]}", "roles": ["partner"]}

    def create():
        return platform.request(
            "POST",
            "/api/v1/apikeys",
            token=platform.token_for("admin"),
            json=body,
            headers={"Idempotency-Key": key},
        )

    first, again = create(), create()
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["key"].startswith("dsn_")
    assert again.json()["id"] == first.json()["id"]
    assert "key" not in again.json() and again.json()["idempotent_replay_without"] == ["key"]
    assert len(platform.sql("SELECT id FROM api_keys WHERE name = :n", n=body["name"])) == 1
    kept = platform.sql("SELECT result FROM idempotent_requests WHERE key = :k", k=key)
    assert first.json()["key"] not in str(kept)
