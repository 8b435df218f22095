"""Events the media service announces (``media.*``), version 1.

They carry the asset and record ids and what a consumer needs to act (dimensions for IIIF
canvases, the reason of a failure); consumers ask the media service for everything else.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import contract

_SHA = validate.Regexp(r"^[0-9a-f]{64}$", error="not a hex SHA-256")
_UUID = validate.Regexp(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", error="not a canonical UUID"
)


class _Asset(Schema):
    asset_id = fields.UUID(required=True)
    record_id = fields.UUID(required=True)
    version = fields.Integer(load_default=1, validate=validate.Range(min=1))


@contract("media.asset_ingested", 1)
class AssetIngestedV1(_Asset):
    format = fields.String(required=True, validate=validate.Length(min=1, max=32))
    kind = fields.String(required=True, validate=validate.Length(min=1, max=16))
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    sha256 = fields.String(required=True, validate=_SHA)
    master_key = fields.String(required=True, validate=validate.Length(min=1, max=512))


@contract("media.derivative_ready", 1)
class DerivativeReadyV1(_Asset):
    kind = fields.String(required=True)
    width = fields.Integer(load_default=None, allow_none=True)
    height = fields.Integer(load_default=None, allow_none=True)
    levels = fields.Integer(load_default=None, allow_none=True)
    pages = fields.Integer(load_default=None, allow_none=True)
    duration = fields.Float(load_default=None, allow_none=True)
    derivative_key = fields.String(load_default=None, allow_none=True)


@contract("media.asset_failed", 1)
class AssetFailedV1(_Asset):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@contract("media.fixity_failed", 1)
class FixityFailedV1(_Asset):
    master_key = fields.String(required=True)
    expected_sha256 = fields.String(required=True, validate=_SHA)
    actual_sha256 = fields.String(load_default=None, allow_none=True)
    detail = fields.String(load_default="", validate=validate.Length(max=2000))


@contract("media.asset_deleted", 1)
class AssetDeletedV1(_Asset):
    purge_after = fields.String(required=True)


@contract("media.asset_replaced", 1)
class AssetReplacedV1(_Asset):
    previous_version = fields.Integer(required=True, validate=validate.Range(min=1))


@contract("media.assets_reordered", 1)
class AssetsReorderedV1(Schema):
    """A record's assets were put in a new order (positions 0..n-1 in the order listed)."""

    record_id = fields.UUID(required=True)
    # canonical UUIDs as strings: a list of strings keeps the plain check (shared/plain.py)
    asset_ids = fields.List(
        fields.String(validate=_UUID), required=True, validate=validate.Length(min=1)
    )
