"""The access service's own rules: usernames, passwords, API keys, refresh tokens, IIIF sessions.

Pure: no I/O, no framework. Principals, roles, item policies and the decision ``authorize`` are
a contract every service shares: they live in ``shared.principals`` (issue #16).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from shared.principals import API_KEY_PREFIX, PARTNER, RESEARCHER, ROLES

API_KEY_ROLES = frozenset({PARTNER, RESEARCHER})  # what a partner key may carry, never staff


class AccessError(Exception):
    """Base of the access service's own errors (bad usernames, passwords, keys)."""


class InvalidUsername(AccessError):
    pass


class WeakPassword(AccessError):
    pass


# usernames, passwords, secrets -------------------------------------------------------------------

USERNAME_MIN, USERNAME_MAX = 3, 64
PASSWORD_MIN, PASSWORD_MAX = 12, 1024
_USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9._@-]*[a-z0-9])?$")


def normalize_username(raw: str) -> str:
    """The canonical form of a username: NFKC, case-folded, ASCII letters/digits and ``._@-``.

    Look-alikes collapse (full-width ``ａｄｍｉｎ`` is ``admin``) and scripts that only look
    Latin (Cyrillic ``а``) are refused, so two accounts can never look the same.
    """
    if not isinstance(raw, str) or len(raw) > 4 * USERNAME_MAX:
        raise InvalidUsername("username too long")
    name = unicodedata.normalize("NFKC", raw).casefold().strip()
    name = unicodedata.normalize("NFKC", name)
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        raise InvalidUsername(f"a username has {USERNAME_MIN} to {USERNAME_MAX} characters")
    if not name.isascii() or not _USERNAME.match(name):
        raise InvalidUsername("a username uses only a-z, 0-9 and . _ @ - (inside)")
    return name


def check_password(password: str, username: str = "") -> None:
    """Refuse passwords that are too short, too long, or trivially guessable."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise WeakPassword(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if len(set(password)) < 4:
        raise WeakPassword("the password repeats too few characters")
    if username and username in password.casefold():
        raise WeakPassword("the password must not contain the username")


def check_roles(
    roles: list[str] | tuple[str, ...] | frozenset[str], allowed: frozenset[str]
) -> frozenset[str]:
    """The roles as a set, if every one is known and allowed; AccessError otherwise."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccessError(f"unknown role(s): {', '.join(unknown)}")
    refused = sorted(set(roles) - allowed)
    if refused:
        raise AccessError(f"role(s) not allowed here: {', '.join(refused)}")
    if not roles:
        raise AccessError("give at least one role")
    return frozenset(roles)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (API keys, refresh tokens); never of a password."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A new API key (shown once) and its public lookup prefix."""
    prefix = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def same_secret(raw: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(raw), stored_digest)


def new_refresh_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


IIIF_SESSION_PREFIX = "is_"
#: At most this long a browser stays logged in to the IIIF access service.
IIIF_SESSION_MAX_SECONDS = 12 * 3600


def new_iiif_session() -> str:
    """The secret of an IIIF access-service session (the cookie's value), 256 bits."""
    return IIIF_SESSION_PREFIX + secrets.token_urlsafe(32)


def iiif_session_seconds(refresh_ttl_seconds: int) -> int:
    """A session lasts as long as a login's refresh tokens, at most 12 hours."""
    return max(60, min(refresh_ttl_seconds, IIIF_SESSION_MAX_SECONDS))
