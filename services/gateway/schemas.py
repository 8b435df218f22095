"""Request and response bodies of the gateway's own routes (auth, users, keys, policies)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_ROLE = fields.String(validate=validate.Length(min=1, max=32))


class LoginRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    refresh_token = fields.String()
    refresh_expires_in = fields.Integer()


class RefreshRequest(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LogoutRequest(Schema):
    refresh_token = fields.String(load_default=None, validate=validate.Length(max=200))


class PrincipalResponse(Schema):
    kind = fields.String()
    id = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    scopes = fields.List(fields.String())


class UserRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    roles = fields.List(_ROLE, required=True, validate=validate.Length(min=1, max=5))
    display_name = fields.String(load_default="", validate=validate.Length(max=200))


class UserResponse(Schema):
    id = fields.String()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    disabled = fields.Boolean()
    created_at = fields.String()
    last_login_at = fields.String(allow_none=True)


class RolesRequest(Schema):
    roles = fields.List(_ROLE, required=True, validate=validate.Length(min=1, max=5))


class ApiKeyRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(_ROLE, load_default=lambda: ["partner"], validate=validate.Length(max=2))
    scopes = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list)
    expires_at = fields.String(load_default=None, allow_none=True)


class ApiKeyResponse(Schema):
    id = fields.String()
    name = fields.String()
    prefix = fields.String()
    roles = fields.List(fields.String())
    scopes = fields.List(fields.String())
    expires_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    active = fields.Boolean()
    key = fields.String(metadata={"description": "the key itself: only in the creation answer"})


class PolicyRequest(Schema):
    level = fields.String(
        required=True,
        validate=validate.OneOf(["public", "restricted", "embargoed", "staff_only"]),
    )
    embargo_until = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class PolicyResponse(Schema):
    resource_kind = fields.String()
    resource_id = fields.String()
    level = fields.String()
    embargo_until = fields.String(allow_none=True)
    reason = fields.String()
    # an asset without a policy of its own: the record it inherits from (ADR 0022)
    inherited_from = fields.Dict(allow_none=True)


class AccessDecisionResponse(PolicyResponse):
    class Meta:
        exclude = ("inherited_from",)

    allowed = fields.Boolean()
    status = fields.Integer()
    explanation = fields.String()


class PasswordRequest(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class DisabledRequest(Schema):
    disabled = fields.Boolean(required=True)
