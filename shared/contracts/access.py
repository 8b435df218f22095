"""Events the access service announces (``access.*``), version 1.

Every login, failed login, key use, policy change and denied request is one of these; the access
service keeps them as its audit log, and other services listen to the ones they need
(``policy_changed`` to purge caches, ``api_key_revoked`` to stop a key at once).
No event ever carries a password, a token or an API key: only ids, names and prefixes.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import contract

_NAME = validate.Length(max=256)
_ROLES = fields.List(fields.String(validate=validate.Length(max=32)), required=True)


class _Base(Schema):
    ip = fields.String(load_default="", validate=validate.Length(max=64))


@contract("access.user_created", 1)
class UserCreatedV1(_Base):
    user_id = fields.String(required=True)
    username = fields.String(required=True, validate=_NAME)
    roles = _ROLES


@contract("access.user_roles_changed", 1)
class UserRolesChangedV1(_Base):
    user_id = fields.String(required=True)
    username = fields.String(required=True, validate=_NAME)
    roles = _ROLES
    previous_roles = fields.List(fields.String(), required=True)


@contract("access.login_succeeded", 1)
class LoginSucceededV1(_Base):
    user_id = fields.String(required=True)
    username = fields.String(required=True, validate=_NAME)


@contract("access.login_failed", 1)
class LoginFailedV1(_Base):
    username = fields.String(required=True, validate=_NAME)
    reason = fields.String(required=True, validate=_NAME)


@contract("access.user_locked", 1)
class UserLockedV1(_Base):
    username = fields.String(required=True, validate=_NAME)
    seconds = fields.Integer(required=True)


@contract("access.logged_out", 1)
class LoggedOutV1(_Base):
    user_id = fields.String(required=True)


@contract("access.token_refreshed", 1)
class TokenRefreshedV1(_Base):
    user_id = fields.String(required=True)


@contract("access.api_key_created", 1)
class ApiKeyCreatedV1(_Base):
    key_id = fields.String(required=True)
    name = fields.String(required=True, validate=_NAME)
    prefix = fields.String(required=True)
    roles = _ROLES
    scopes = fields.List(fields.String(), required=True)
    expires_at = fields.AwareDateTime(allow_none=True, load_default=None)


@contract("access.api_key_revoked", 1)
class ApiKeyRevokedV1(_Base):
    key_id = fields.String(required=True)
    name = fields.String(required=True, validate=_NAME)


@contract("access.api_key_used", 1)
class ApiKeyUsedV1(_Base):
    key_id = fields.String(required=True)
    name = fields.String(required=True, validate=_NAME)


@contract("access.policy_changed", 1)
class PolicyChangedV1(Schema):
    resource_kind = fields.String(required=True, validate=validate.OneOf(["record", "asset"]))
    resource_id = fields.UUID(required=True)  # records and assets are UUIDs (the journal's key)
    level = fields.String(
        required=True, validate=validate.OneOf(["public", "restricted", "embargoed", "staff_only"])
    )
    embargo_until = fields.AwareDateTime(allow_none=True, load_default=None)
    reason = fields.String(load_default="", validate=validate.Length(max=1000))
    previous_level = fields.String(allow_none=True, load_default=None)


@contract("access.record_visibility_changed", 1)
class RecordVisibilityChangedV1(Schema):
    """A record became visible to the public (published) or stopped being so (draft, in
    review, withdrawn, deleted): the policies of its assets without one of their own changed
    with it (ADR 0034), so caches of those policies purge."""

    record_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    published = fields.Boolean(required=True)
    state = fields.String(required=True, validate=validate.Length(min=1, max=32))


@contract("access.request_denied", 1)
class RequestDeniedV1(_Base):
    method = fields.String(required=True, validate=validate.Length(max=16))
    path = fields.String(required=True, validate=validate.Length(max=512))
    status = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=512))
    principal = fields.String(required=True, validate=_NAME)


@contract("access.password_changed", 1)
class PasswordChangedV1(_Base):
    user_id = fields.String(required=True)


@contract("access.user_disabled", 1)
class UserDisabledV1(_Base):
    user_id = fields.String(required=True)
    username = fields.String(required=True, validate=_NAME)
    disabled = fields.Boolean(required=True)
