"""The media service's public shapes: an asset as the API shows it, its preservation events."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from services.media.domain import FAILURE_TEXT


class AssetSchema(Schema):
    asset_id = fields.String(attribute="id")
    record_id = fields.String()
    status = fields.String()
    kind = fields.String()
    format = fields.String()
    mime_type = fields.String()
    version = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    levels = fields.Integer(allow_none=True)
    size = fields.Integer()
    sha256 = fields.String()
    filename = fields.String()
    position = fields.Integer()
    metadata = fields.Dict()
    technical = fields.Dict()
    failure_reason = fields.String(allow_none=True)
    fixity_status = fields.String()
    fixity_checked_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)
    purge_after = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PreservationEventSchema(Schema):
    id = fields.Integer()
    event_type = fields.String()
    occurred_at = fields.DateTime()
    agent = fields.String()
    outcome = fields.String()
    detail = fields.Dict()


class VersionSchema(Schema):
    version = fields.Integer()
    master_key = fields.String()
    format = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    filename = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()


def dump_asset(row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = AssetSchema().dump(row)
    data["asset_id"] = str(row["id"])
    data["record_id"] = str(row["record_id"])
    data["failure_text"] = FAILURE_TEXT if row.get("status") == "failed" else None
    return data
