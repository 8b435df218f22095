"""Usernames, passwords, API keys: normalisation and refusal of hostile input."""

from __future__ import annotations

import pytest

from services.access import domain
from services.access.accounts import Passwords
from shared import principals


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("admin", "admin"),
        ("  Admin ", "admin"),
        ("ＡＤＭＩＮ", "admin"),  # full-width look-alike collapses under NFKC
        ("ａｄｍｉｎ", "admin"),
        ("Nguyen.Van-A", "nguyen.van-a"),
        ("ﬁle.keeper", "file.keeper"),  # ligature
        ("lgsp@haiphong", "lgsp@haiphong"),
    ],
)
def test_usernames_are_normalised(raw, canonical):
    assert domain.normalize_username(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "аdmin",  # Cyrillic а: looks Latin, is not
        "admin' OR '1'='1",
        "admin'--",
        "x; DROP TABLE users",
        "a" * 65,
        "a" * 100_000,
        "ab",
        "",
        ".admin",
        "admin\u200b",  # zero-width space
        "nguyễn",  # diacritics: display names carry them, usernames do not
        "ad min",
        "admin\x00",
    ],
)
def test_hostile_or_confusable_usernames_are_refused(raw):
    with pytest.raises(domain.InvalidUsername):
        domain.normalize_username(raw)


@pytest.mark.parametrize(
    "password", ["short", "a" * 1025, "aaaaaaaaaaaaaa", "abababababab", "myadminpassword!"]
)
def test_weak_passwords_are_refused(password):
    with pytest.raises(domain.WeakPassword):
        domain.check_password(password, "admin")


def test_a_reasonable_password_passes():
    domain.check_password("correct horse battery", "admin")


def test_roles_must_be_known_and_allowed():
    assert domain.check_roles(["partner"], domain.API_KEY_ROLES) == {"partner"}
    with pytest.raises(domain.AccessError, match="unknown"):
        domain.check_roles(["root"], frozenset(principals.ROLES))
    with pytest.raises(domain.AccessError, match="not allowed"):
        domain.check_roles(["admin"], domain.API_KEY_ROLES)
    with pytest.raises(domain.AccessError):
        domain.check_roles([], frozenset(principals.ROLES))


def test_api_keys_are_parsed_strictly_and_compared_by_digest():
    key, prefix = domain.new_api_key()
    assert principals.parse_api_key(key) == prefix
    assert domain.same_secret(key, domain.digest(key))
    other, _ = domain.new_api_key()
    assert not domain.same_secret(other, domain.digest(key))
    for bad in ["", "dsn_", key + "x", key.replace("dsn_", "xyz_"), "dsn_' OR 1=1 --", key[:-1]]:
        assert principals.parse_api_key(bad) is None


def test_password_hashes_are_argon2id_and_verify():
    passwords = Passwords()
    hashed = passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify(hashed, "correct horse battery")
    assert not passwords.verify(hashed, "correct horse batterY")
    assert not passwords.verify(None, "correct horse battery")
    assert not passwords.verify("not a hash", "correct horse battery")
