"""Errors with details across RPC.

nameko carries an exception's type name and ``str()`` to the caller, not ``DisanError.details``
(the per-field problems of a record, the per-row report of an import). The catalogue packs the
details as JSON after a marker in the message; the gateway unpacks them into the same
``shared.errors`` type, so the client still gets ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from shared import errors

MARKER = "\n--details--\n"
F = TypeVar("F", bound=Callable[..., Any])


def carry_details(fn: F) -> F:
    """Re-raise a DisanError with details as the same type, the details packed in its message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.DisanError as exc:
            if exc.details is None:
                raise
            packed = exc.message + MARKER + json.dumps(exc.details, default=str)
            raise type(exc)(packed) from exc

    return wrapper  # type: ignore[return-value]


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
