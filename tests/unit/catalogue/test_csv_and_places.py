"""CSV columns cover every field of a record, demo records survive CSV, communes resolve."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from marshmallow import Schema, fields

from services.catalogue import demo, domain
from shared import record_schemas as schemas

VOCABULARY = json.loads((demo.DEMO.parent / "vocabularies.json").read_text(encoding="utf-8"))[
    "schemes"
]
PLACES = {s: {t["code"]: t["labels"] for t in VOCABULARY[s]} for s in domain.PLACE_FIELDS}


def leaves(schema: Schema, prefix: str = "") -> list[str]:
    """Every CSV column a schema needs: lists are one JSON cell, language maps one per language."""
    out: list[str] = []
    for name, field in schema.fields.items():
        path = prefix + name
        if isinstance(field, fields.List):
            out.append(path)
        elif isinstance(field, schemas.LangMap):
            out += [f"{path}.vi", f"{path}.en"]
        elif isinstance(field, schemas.PlaceRef):
            out += [f"{path}.code", f"{path}.vi", f"{path}.en"]
        elif isinstance(field, fields.Nested):
            out += leaves(field.schema, path + ".")
        else:
            out.append(path)
    return out


def test_the_csv_columns_are_every_field_of_the_record_schema():
    assert sorted(leaves(schemas.RecordSchema())) == sorted(domain.CSV_COLUMNS)


def through_csv(doc: dict[str, Any]) -> dict[str, str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=domain.CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow(domain.flatten(doc))
    return next(csv.DictReader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("item", demo.items(), ids=lambda i: i["record"]["inventory_number"])
def test_every_demo_record_round_trips_through_a_csv_row(item):
    doc, errors = domain.resolve_places(schemas.load_record(item["record"]), PLACES)
    assert not errors
    raw, cell_errors = domain.unflatten(through_csv(doc))
    assert not cell_errors
    again, _ = domain.resolve_places(schemas.load_record(raw), PLACES)
    assert again == doc


def test_a_fully_filled_record_round_trips_through_a_csv_row():
    lm = {"vi": 'Văn bản «có dấu»,\n"ngoặc"', "en": "text, with; punctuation"}
    decision = {"number": "88/QĐ-TTg", "date": "2020-01-14", "issuer": lm}
    doc = schemas.load_record(
        {
            "inventory_number": "HP-HV-0099",
            "heritage_class": "museum_object",
            "title": lm,
            "alternative_titles": [lm],
            "description": lm,
            "unesco": {"list": "world_heritage", "year": 2023, "name": lm, "note": lm},
            "national_treasure": {"decision": decision, "note": lm},
            "museum_object": {
                "holding_institution": lm,
                "accession_number": "BTHP-1",
                "materials": ["ceramic"],
                "dating": lm,
                "period": "ly",
            },
            "location": {"lat": 20.86, "lon": 106.683, "approximate": False},
            "address": {
                "street": lm,
                "commune_pre2025": {"code": "ly_hoc", "vi": "xã Lý Học", "en": "Lý Học"},
                "district_pre2025": "vinh_bao",
                "province_pre2025": "hai_phong",
                "commune_current": {"code": "cat_hai"},
                "province_current": "hai_phong",
            },
            "periods": ["ly"],
            "subjects": [lm],
            "relations": [{"type": "kept_at", "target": demo.record_id("X"), "note": lm}],
            "sources": [
                {"citation": "c", "url": "https://example.org/a", "accessed": "2025-01-02"}
            ],
            "rights": {
                "statement": "https://rightsstatements.org/vocab/InC/1.0/",
                "licence": "CC BY 4.0",
                "holder": lm,
            },
            "notes": lm,
        }
    )
    raw, cell_errors = domain.unflatten(through_csv(doc))
    assert not cell_errors
    assert schemas.load_record(raw) == doc


def address(**communes: Any) -> dict[str, Any]:
    return {"address": {"district_pre2025": "vinh_bao"} | communes}


def test_a_commune_given_by_name_is_stored_as_its_term():
    doc, errors = domain.resolve_places(address(commune_pre2025={"vi": "Xa ly hoc"}), PLACES)
    assert not errors
    assert doc["address"]["commune_pre2025"] == {
        "code": "ly_hoc",
        "vi": "xã Lý Học",
        "en": "Lý Học commune",
    }


def test_a_commune_given_by_code_gets_the_labels_of_the_vocabulary():
    doc, _ = domain.resolve_places(
        address(commune_current={"code": "cat_hai", "vi": "anything"}), PLACES
    )
    assert doc["address"]["commune_current"]["vi"] == "đặc khu Cát Hải"
    assert (
        domain.columns(
            doc | {"inventory_number": "A", "heritage_class": "intangible", "title": {"vi": "x"}}
        )["commune"]
        is None
    )


def test_an_unknown_commune_name_is_an_error_and_an_unknown_code_a_vocabulary_error():
    _, errors = domain.resolve_places(address(commune_pre2025={"vi": "xã Không Có"}), PLACES)
    assert "address.commune_pre2025" in errors
    doc, errors = domain.resolve_places(address(commune_pre2025={"code": "nowhere"}), PLACES)
    assert not errors
    known = {s: set(terms) for s, terms in PLACES.items()}
    assert domain.unknown_terms(doc, known)["address.commune_pre2025.code"] == [
        "unknown commune_pre2025 term 'nowhere'"
    ]


@pytest.mark.parametrize("value", [{"en": "Lý Học"}, {"code": "Bad Code"}, 42, {"vi": "x", "x": 1}])
def test_a_commune_needs_a_code_or_a_vietnamese_name(value):
    with pytest.raises(schemas.ValidationError):
        schemas.load_record(
            {
                "inventory_number": "A1",
                "heritage_class": "tangible_site",
                "title": {"vi": "Đền"},
                "address": {"commune_pre2025": value},
            }
        )
