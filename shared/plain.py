"""Contract data checked without a marshmallow pass, for the plain form producers send.

``schema.dump(schema.load(data))`` costs tens of microseconds per event, most of it marshmallow's
generic machinery, and every event pays it twice (producer and consumer). For contracts made of
simple fields (strings, integers, floats, booleans, UUIDs, lists of strings and dicts of
strings), :func:`plain_checker` compiles a check that gives the same result for data in its
plain form (exact JSON types, canonical UUIDs, no unknown keys) and that passes the fields' own
validators. Anything else (a missing required field, a type marshmallow would coerce, a value a
validator refuses, a contract with hooks or options this module does not know) makes the check
answer None, and the caller lets the schema decide, and explain.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing

Checker = Callable[[Any], "dict[str, Any] | None"]
_Convert = Callable[[Any], Any]


class _NotPlain(Exception):
    """The value is not in the plain form (or a validator refused it): the schema decides."""


def _validated(
    convert: _Convert, validators: list[Any], result: _Convert | None = None
) -> _Convert:
    """``convert`` followed by the field's validators (on the loaded value, as marshmallow runs
    them); ``result`` turns the loaded value into the dumped one where they differ."""
    if not validators and result is None:
        return convert

    def check(value: Any) -> Any:
        loaded = convert(value)
        try:
            for validator in validators:
                if validator(loaded) is False:
                    raise _NotPlain
        except ValidationError:
            raise _NotPlain from None
        return loaded if result is None else result(loaded)

    return check


def _exact(kind: type) -> _Convert:
    """A value of exactly ``kind`` (not a subclass: ``True`` is no integer here), kept as is."""

    def convert(value: Any) -> Any:
        if type(value) is not kind:
            raise _NotPlain
        return value

    return convert


_string, _integer, _boolean = _exact(str), _exact(int), _exact(bool)


def _float(allow_nan: bool) -> _Convert:
    def convert(value: Any) -> Any:
        kind = type(value)
        if kind is int:
            try:
                value = float(value)
            except OverflowError:
                raise _NotPlain from None
        elif kind is not float:
            raise _NotPlain
        if not allow_nan and not math.isfinite(value):
            raise _NotPlain
        return value

    return convert


def _uuid(value: Any) -> Any:
    if type(value) is not str or len(value) != 36:
        raise _NotPlain
    try:
        loaded = uuid.UUID(value)
    except ValueError:
        raise _NotPlain from None
    if str(loaded) != value:  # not canonical: the schema would rewrite it
        raise _NotPlain
    return loaded


def _string_item(field: Any) -> _Convert | None:
    """The converter of a plain String inside a List or a Dict (or of any JSON value when the
    container declares none)."""
    if field is None:
        return None
    if type(field) is not fields.String or not _simple(field):
        raise _NotPlain
    return _validated(_string, list(field.validators))


def _list(field: fields.List[Any]) -> _Convert:
    item = _string_item(field.inner)

    def convert(value: Any) -> Any:
        if type(value) is not list:
            raise _NotPlain
        return [item(v) for v in value] if item is not None else list(value)

    return convert


def _dict(field: fields.Dict) -> _Convert:
    key = _string_item(field.key_field)
    val = _string_item(field.value_field)

    def convert(value: Any) -> Any:
        if type(value) is not dict:
            raise _NotPlain
        if key is None and val is None:
            return dict(value)
        return {
            (k if key is None else key(k)): (v if val is None else val(v)) for k, v in value.items()
        }

    return convert


def _simple(field: fields.Field[Any]) -> bool:
    """No option that changes names, direction or hooks of the field."""
    return (
        field.data_key is None
        and field.attribute is None
        and not field.load_only
        and not field.dump_only
        and field.dump_default is missing
        and not getattr(field, "pre_load", None)
        and not getattr(field, "post_load", None)
    )


def _converter(field: fields.Field[Any]) -> _Convert:
    """The check of one field's present, non-None value; _NotPlain if the field is not simple."""
    if not _simple(field):
        raise _NotPlain
    validators = list(field.validators)
    kind = type(field)
    if getattr(field, "as_string", False):  # a number dumped as text
        raise _NotPlain
    if kind is fields.String:
        return _validated(_string, validators)
    if kind is fields.Integer:
        return _validated(_integer, validators)
    if kind is fields.Boolean:
        return _validated(_boolean, validators)
    if kind is fields.Float and isinstance(field, fields.Float):
        return _validated(_float(bool(field.allow_nan)), validators)
    if kind is fields.UUID:
        return _validated(_uuid, validators, str)
    if kind is fields.List and isinstance(field, fields.List):
        return _validated(_list(field), validators)
    if kind is fields.Dict and isinstance(field, fields.Dict):
        return _validated(_dict(field), validators)
    raise _NotPlain


def plain_checker(schema: Schema) -> Checker | None:
    """A check equal to ``schema.dump(schema.load(data))`` for data in plain form, answering
    None for anything else; None if the schema has something this module does not know."""
    if (
        any(schema._hooks.values())
        or schema.only is not None
        or schema.exclude
        or schema.load_only
        or schema.dump_only
        or list(schema.load_fields) != list(schema.fields)
        or list(schema.dump_fields) != list(schema.fields)
    ):
        return None
    plan: list[tuple[str, _Convert, bool, bool, Any]] = []
    try:
        for name, field in schema.fields.items():
            convert = _converter(field)
            default = field.load_default
            if callable(default):
                return None
            dumped = missing if default is missing else field.serialize("v", {"v": default})
            plan.append((name, convert, bool(field.required), bool(field.allow_none), dumped))
    except _NotPlain:
        return None
    names = frozenset(schema.fields)

    def check(data: Any) -> dict[str, Any] | None:
        if type(data) is not dict or not data.keys() <= names:
            return None
        out: dict[str, Any] = {}
        try:
            for name, convert, required, allow_none, dumped in plan:
                if name in data:
                    value = data[name]
                    if value is None:
                        if not allow_none:
                            return None
                        out[name] = None
                    else:
                        out[name] = convert(value)
                elif required:
                    return None
                elif dumped is not missing:
                    out[name] = dumped
        except _NotPlain:
            return None
        return out

    return check
