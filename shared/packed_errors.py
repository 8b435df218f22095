"""Errors with details across RPC.

``shared.rpc`` now carries ``DisanError.details`` (the per-field problems of a record, the
per-row report of an import) to the caller itself, so ``carry_details`` no longer packs anything:
it is kept as a no-op so the service code need not change. ``unpack`` still reads the old packed
form (details as JSON after a marker in the message), for replicas of the previous release during
a rolling update.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from shared import errors

MARKER = "\n--details--\n"
F = TypeVar("F", bound=Callable[..., Any])


def carry_details(fn: F) -> F:
    """No-op: ``shared.rpc`` carries the details of a DisanError to the caller."""
    return fn


def unpack(exc_type: str, value: str) -> errors.DisanError | None:
    """The DisanError a packed remote error stands for, or None if it carries no details."""
    message, marker, details = value.partition(MARKER)
    cls = getattr(errors, exc_type, None)
    if not marker or not isinstance(cls, type) or not issubclass(cls, errors.DisanError):
        return None
    try:
        return cls(message, json.loads(details))
    except ValueError:
        return cls(message)
