"""Events the iiif service announces (``iiif.*``), version 1.

``manifest_published`` says a record's manifest was (re)built and is served at ``manifest_url``;
``manifest_removed`` that it is no longer served (record withdrawn or deleted).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import contract

_URL = validate.Length(min=1, max=1000)


@contract("iiif.manifest_published", 1)
class ManifestPublishedV1(Schema):
    record_id = fields.UUID(required=True)
    manifest_url = fields.String(required=True, validate=_URL)
    etag = fields.String(required=True, validate=validate.Length(min=1, max=128))
    record_version = fields.Integer(required=True, validate=validate.Range(min=1))
    canvases = fields.Integer(required=True, validate=validate.Range(min=0))
    created = fields.Boolean(required=True)  # first publication (Create) or a rebuild (Update)


@contract("iiif.manifest_removed", 1)
class ManifestRemovedV1(Schema):
    record_id = fields.UUID(required=True)
    manifest_url = fields.String(required=True, validate=_URL)
    reason = fields.String(required=True, validate=validate.OneOf(["withdrawn", "deleted"]))
