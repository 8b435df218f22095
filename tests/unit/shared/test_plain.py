"""shared.plain: the plain check of a contract gives what marshmallow gives, or None.

Every registered contract is tried with a valid sample and with each field swapped for odd
values (wrong types, coercible strings, None, non-canonical UUIDs, NaN, huge numbers, missing
and unknown keys, values the validators refuse): wherever the plain check answers, its answer
equals ``schema.dump(schema.load(data))``; wherever marshmallow refuses, the check answers None.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields, post_load, validate

import shared.contracts  # noqa: F401 - registers every contract
from shared.events import EventError, contract_for, load_event, make_event, registered_contracts
from shared.plain import plain_checker

ODD: list[Any] = [
    None,
    "",
    "1",
    "true",
    "Đền Nghè",
    "De\u0300n",  # not NFC
    "x" * 3000,
    0,
    1,
    -1,
    10**400,
    1.5,
    2.0,
    math.nan,
    math.inf,
    True,
    False,
    [],
    ["a"],
    [1],
    {},
    {"vi": "Đền", "en": "Temple"},
    {"vi": 1},
    "7C9E6679-7425-40DE-944B-E07FC1F90AE7",  # UUID, not canonical
    "7c9e6679742540de944be07fc1f90ae7",  # UUID without dashes
    str(uuid.UUID(int=7)),
    "2026-11-27T08:00:00+00:00",
    "https://example.org/iiif/presentation/3/records/x/manifest",
    b"bytes",
]


def _accepted(field: fields.Field[Any], value: Any) -> bool:
    try:
        field.deserialize(value)
    except ValidationError:
        return False
    return True


def _valid_value(field: fields.Field[Any]) -> Any:
    """A value the field accepts and keeps as it is, in plain JSON form (None if none of the
    candidates is)."""
    candidates: list[Any] = []
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            candidates.extend(validator.choices)
    candidates += [str(uuid.uuid4()), "user:42", "a", "Đền Nghè", True, 3, 1, 0, 2.5]
    candidates += [["a", "b"], [], [str(uuid.uuid4())], {"vi": "Đền Nghè", "en": "Nghe Temple"}]
    candidates += ["https://example.org/iiif/presentation/3/records/x/manifest"]
    candidates += ["2026-11-27T08:00:00+00:00", "0123456789abcdef" * 4]
    for candidate in candidates:
        if _accepted(field, candidate):
            kept = field.serialize("v", {"v": field.deserialize(candidate)})
            if kept == candidate and type(kept) is type(candidate):
                return candidate
    return None


def _marshmallow(schema: Schema, data: Any) -> Any:
    try:
        return schema.dump(schema.load(data))
    except (ValidationError, TypeError, ValueError, OverflowError):
        return None


def _agree(schema: Schema, data: Any) -> bool:
    """Assert the plain check and marshmallow agree on ``data``; True if the check answered."""
    check = plain_checker(schema)
    assert check is not None
    fast = check(data)
    slow = _marshmallow(schema, data)
    if fast is not None:
        assert slow is not None, f"plain check accepted what marshmallow refuses: {data!r}"
        assert fast == slow and list(fast) == list(slow), data
        assert type(fast) is dict
        for key, value in fast.items():  # same types as well as equal values (1 == 1.0)
            assert type(value) is type(slow[key]), (key, value, slow[key])
    return fast is not None


def _samples(schema: Schema, rng: random.Random) -> list[Any]:
    base = {name: _valid_value(field) for name, field in schema.fields.items()}
    base = {k: v for k, v in base.items() if v is not None or schema.fields[k].required}
    samples: list[Any] = [base, dict(base, unknown_key=1), None, [], "x"]
    for name in schema.fields:
        samples.append({k: v for k, v in base.items() if k != name})
        for odd in ODD:
            samples.append(dict(base, **{name: odd}))
    for _ in range(200):  # several fields odd at once
        sample = dict(base)
        for name in rng.sample(list(schema.fields), k=min(2, len(schema.fields))):
            sample[name] = rng.choice(ODD)
        samples.append(sample)
    return samples


CONTRACTS = registered_contracts()


@pytest.mark.parametrize(("event_type", "version"), CONTRACTS, ids=[t for t, _ in CONTRACTS])
def test_plain_check_agrees_with_marshmallow_on_every_contract(event_type: str, version: int):
    schema = contract_for(event_type, version)()
    if plain_checker(schema) is None:
        pytest.skip(f"{event_type} v{version} has fields the plain check leaves to marshmallow")
    rng = random.Random(f"{event_type}{version}")
    samples = _samples(schema, rng)
    answered = [_agree(schema, data) for data in samples]
    assert answered[0], f"the valid sample of {event_type} is not taken by the plain check"


def test_most_contracts_have_a_plain_check():
    """The fast path is not silently lost: only contracts with fields it does not know (dates)
    fall back to marshmallow."""
    without = [(t, v) for t, v in CONTRACTS if plain_checker(contract_for(t, v)()) is None]
    for event_type, version in without:
        kinds = {type(f) for f in contract_for(event_type, version)().fields.values()}
        assert kinds & {fields.AwareDateTime, fields.DateTime, fields.Nested}, event_type
    assert len(without) < len(CONTRACTS) / 2


def test_schema_with_hooks_or_unknown_fields_has_no_plain_check():
    class Hooked(Schema):
        n = fields.Integer(required=True)

        @post_load
        def double(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {"n": data["n"] * 2}

    class Renamed(Schema):
        n = fields.Integer(required=True, data_key="N")

    class AsText(Schema):
        n = fields.Integer(required=True, as_string=True)

    class Email(Schema):
        e = fields.Email(required=True)

    for schema_cls in (Hooked, Renamed, AsText, Email):
        assert plain_checker(schema_cls()) is None, schema_cls.__name__


def test_defaults_and_none_follow_marshmallow():
    class WithDefaults(Schema):
        reason = fields.String(load_default="", validate=validate.Length(max=5))
        previous = fields.String(allow_none=True, load_default=None)
        count = fields.Integer(validate=validate.Range(min=1))
        ratio = fields.Float(required=True)
        tags = fields.List(fields.String(validate=validate.Length(max=2)), required=True)
        title = fields.Dict(keys=fields.String(), values=fields.String(), required=True)

    schema = WithDefaults()
    for data in (
        {"ratio": 1, "tags": [], "title": {}},
        {"ratio": 1.5, "tags": ["ab"], "title": {"vi": "Đền"}, "reason": "abcde"},
        {"ratio": 1.5, "tags": ["abc"], "title": {}},  # inner validator refuses
        {"ratio": 1.5, "tags": [], "title": {}, "reason": "abcdef"},  # too long
        {"ratio": 1.5, "tags": [], "title": {}, "count": 0},  # Range refuses
        {"ratio": 1.5, "tags": [], "title": {}, "count": 2, "previous": None},
        {"ratio": 1.5, "tags": [], "title": {}, "reason": None},  # None not allowed
        {"ratio": math.nan, "tags": [], "title": {}},
    ):
        _agree(schema, data)
    check = plain_checker(schema)
    assert check is not None
    assert check({"ratio": 1, "tags": [], "title": {}}) == {
        "reason": "",
        "previous": None,
        "ratio": 1.0,
        "tags": [],
        "title": {},
    }


def test_events_still_report_what_is_wrong():
    """The schema still explains refused data (the plain check only ever says None)."""
    with pytest.raises(EventError, match="inventory_number"):
        make_event(
            "catalogue.record_created",
            {
                "record_id": str(uuid.uuid4()),
                "heritage_class": "tangible_site",
                "version": 1,
                "state": "draft",
                "title": {"vi": "Đền Nghè"},
            },
            producer="catalogue",
        )
    event = make_event(
        "catalogue.record_created",
        {
            "record_id": str(uuid.uuid4()).upper(),  # coerced by the schema, as before
            "inventory_number": "HP-1",
            "heritage_class": "tangible_site",
            "version": 1,
            "state": "draft",
            "title": {"vi": "Đe\u0302\u0300n Nghè"},
        },
        producer="catalogue",
    )
    assert event.data["record_id"] == event.data["record_id"].lower()
    assert event.data["title"]["vi"] == "Đền Nghè"  # NFC
    back = load_event(event.to_dict())
    assert back.data == event.data
