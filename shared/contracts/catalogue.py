"""Events the catalogue announces (``catalogue.*``), version 1.

They carry ids, the version, the workflow state and enough to title a notification; consumers
that need the whole record ask the catalogue for it.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import contract

_CLASSES = validate.OneOf(["tangible_site", "intangible", "museum_object", "documentary"])
_STATES = validate.OneOf(["draft", "in_review", "published", "withdrawn"])

RECORD_EVENTS = (
    "catalogue.record_created",
    "catalogue.record_updated",
    "catalogue.record_published",
    "catalogue.record_withdrawn",
    "catalogue.record_deleted",
)
"""Every event of a record's life (each carries its state and version): what a projection of
records binds to."""


class _Record(Schema):
    record_id = fields.UUID(required=True)
    inventory_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    heritage_class = fields.String(required=True, validate=_CLASSES)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    state = fields.String(required=True, validate=_STATES)
    title = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


@contract("catalogue.record_created", 1)
class RecordCreatedV1(_Record):
    pass


@contract("catalogue.record_updated", 1)
class RecordUpdatedV1(_Record):
    changed_fields = fields.List(fields.String(), required=True)
    restored_from = fields.Integer(load_default=None, allow_none=True)


@contract("catalogue.record_published", 1)
class RecordPublishedV1(_Record):
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


@contract("catalogue.record_withdrawn", 1)
class RecordWithdrawnV1(_Record):
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


@contract("catalogue.record_deleted", 1)
class RecordDeletedV1(_Record):
    pass
