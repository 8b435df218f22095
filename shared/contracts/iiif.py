"""Events the iiif service announces (``iiif.*``), version 1.

``manifest_published`` says a record's manifest was (re)built and is served at ``manifest_url``;
``manifest_removed`` that it is no longer served (record withdrawn or deleted, or its last
canvas gone).
``annotation_created/updated/deleted`` say which annotation changed on which canvas, with its
motivation and visibility; the text is not carried (private annotations stay private).
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
    # no_content: still published, but its last ready asset went (ADR 0067)
    reason = fields.String(
        required=True, validate=validate.OneOf(["withdrawn", "deleted", "no_content"])
    )


class _Annotation(Schema):
    annotation_id = fields.UUID(required=True)
    record_id = fields.UUID(required=True)
    canvas_id = fields.String(required=True, validate=_URL)
    motivation = fields.String(
        required=True,
        validate=validate.OneOf(["commenting", "tagging", "describing", "transcribing"]),
    )
    visibility = fields.String(
        required=True, validate=validate.OneOf(["private", "group", "public"])
    )
    version = fields.Integer(required=True, validate=validate.Range(min=1))


@contract("iiif.annotation_created", 1)
class AnnotationCreatedV1(_Annotation):
    pass


@contract("iiif.annotation_updated", 1)
class AnnotationUpdatedV1(_Annotation):
    pass


@contract("iiif.annotation_deleted", 1)
class AnnotationDeletedV1(_Annotation):
    """``version`` is the last version the annotation had."""
