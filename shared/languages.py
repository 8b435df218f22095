"""The order of languages in every language map Disan answers: ``vi`` first, then ``en``, then
the others as they came (issue 15, ADR 0048).

PostgreSQL's jsonb stores an object's keys sorted (``en`` before ``vi``), so a map read back
from the database lists English first; viewers and clients that show the first language would
show English. Answers are ordered here, in one place, where they are dumped: :func:`vi_first`
for one map, :func:`vi_first_deep` for a whole document, :func:`answers_vi_first` for every
answer of an RPC method. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

#: the order of languages in every language map: Vietnamese first, then English, then others
LANGUAGE_ORDER = ("vi", "en")

V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])


def language_rank(key: object) -> tuple[int, str]:
    """A sort key putting ``vi``, then ``en``, before every other key (those by name)."""
    text = str(key)
    if text in LANGUAGE_ORDER:
        return (LANGUAGE_ORDER.index(text), "")
    return (len(LANGUAGE_ORDER), text)


def vi_first(value: Mapping[str, V]) -> dict[str, V]:
    """``value`` with ``vi`` first and ``en`` second, the other keys after them in their order."""
    out = {k: value[k] for k in LANGUAGE_ORDER if k in value}
    out |= {k: v for k, v in value.items() if k not in out}
    return out


def vi_first_deep(value: Any) -> Any:
    """A JSON value with every object in it that has a ``vi`` or ``en`` key ordered by
    :func:`vi_first` (key order means nothing else in JSON, so other objects keep theirs)."""
    if isinstance(value, Mapping):
        items = {k: vi_first_deep(v) for k, v in value.items()}
        return vi_first(items) if any(k in items for k in LANGUAGE_ORDER) else items
    if isinstance(value, list | tuple):
        return [vi_first_deep(v) for v in value]
    return value


def answers_vi_first(fn: F) -> F:
    """Order the language maps of everything ``fn`` answers (under ``@rpc``, above
    ``@idempotent`` so that a replayed answer, read back from jsonb, is ordered too)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return vi_first_deep(fn(*args, **kwargs))

    return cast(F, wrapper)
