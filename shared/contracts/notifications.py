"""Events the notifications service announces (``notifications.*``), version 1.

``delivery_failed`` tells that a webhook delivery gave up (dead-lettered after its retry window);
``subscription_paused`` that a subscription was paused after repeated failures. They carry ids
and the reason, never the subscription's secret or the receiver's answer body.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import contract


@contract("notifications.delivery_failed", 1)
class DeliveryFailedV1(Schema):
    delivery_id = fields.UUID(required=True)
    subscription_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=128))
    attempts = fields.Integer(required=True, validate=validate.Range(min=1))
    last_error = fields.String(load_default="", validate=validate.Length(max=2000))


@contract("notifications.subscription_paused", 1)
class SubscriptionPausedV1(Schema):
    subscription_id = fields.UUID(required=True)
    owner = fields.String(required=True, validate=validate.Length(min=1, max=256))
    consecutive_failures = fields.Integer(required=True, validate=validate.Range(min=0))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
