"""The record document's vocabulary lives in ``shared.record_schemas`` (the gateway documents
its routes with it); the catalogue's workflow must name the same actions (issue #16)."""

from __future__ import annotations

from services.catalogue import domain
from shared import record_schemas


def test_the_workflow_actions_are_those_the_transition_schema_takes() -> None:
    assert frozenset(domain.ACTION_ROLES) == record_schemas.ACTIONS
    assert {action for _, action in domain.TRANSITIONS} == record_schemas.ACTIONS


def test_the_catalogue_decides_with_the_shared_vocabulary() -> None:
    assert domain.CLASSES is record_schemas.CLASSES
    assert domain.STATES is record_schemas.STATES
    assert domain.class_block_errors is record_schemas.class_block_errors
    assert set(domain.CLASS_LABELS) == set(record_schemas.CLASSES)
    assert set(domain.STATE_LABELS) == set(record_schemas.STATES)
