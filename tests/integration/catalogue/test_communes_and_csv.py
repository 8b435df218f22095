"""Communes are vocabulary terms (by code or by name, facetable); CSV export → import keeps
every field of every demo record."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from services.catalogue import demo
from tests.integration.catalogue.conftest import record_body
from tests.integration.catalogue.test_import_export import upload

pytestmark = pytest.mark.integration


def counts(facet):
    """A facet's values and counts (without their labels)."""
    return [{"value": f["value"], "count": f["count"]} for f in facet]


def export(catalogue, fmt):
    answer = catalogue.request(
        "GET", "/api/v1/records/export", token=catalogue.token_for("admin"), params={"format": fmt}
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def test_a_commune_named_on_write_is_stored_as_its_term_and_is_a_facet(catalogue):
    body = record_body(
        address={"district_pre2025": "vinh_bao", "commune_pre2025": {"vi": "Xã Lý Học"}}
    )
    record = catalogue.create(body)
    assert record["address"]["commune_pre2025"] == {
        "code": "ly_hoc",
        "vi": "xã Lý Học",
        "en": "Lý Học commune",
    }
    catalogue.publish(record["id"])
    found = catalogue.request(
        "GET",
        "/api/v1/records",
        params={"commune": "ly_hoc", "q": body["inventory_number"]},
    ).json()
    assert [r["id"] for r in found["items"]] == [record["id"]]
    assert {"value": "ly_hoc", "count": 1} in counts(found["facets"]["commune"])
    other = catalogue.request("GET", "/api/v1/records", params={"commune": "nhan_hoa"}).json()
    assert record["id"] not in [r["id"] for r in other["items"]]


def test_an_unknown_commune_is_refused_on_write_and_on_import(catalogue):
    bad = catalogue.request(
        "POST",
        "/api/v1/records",
        token=catalogue.token_for("cataloguer"),
        json=record_body(address={"commune_pre2025": {"vi": "xã Không Tồn Tại"}}),
    )
    assert bad.status_code == 422
    assert "address.commune_pre2025" in bad.json()["error"]["details"]
    code = catalogue.request(
        "POST",
        "/api/v1/records",
        token=catalogue.token_for("cataloguer"),
        json=record_body(address={"commune_current": {"code": "khong_co"}}),
    )
    assert code.status_code == 422
    assert "address.commune_current.code" in code.json()["error"]["details"]
    p = "COM-" + uuid.uuid4().hex[:6].upper()
    content = (
        "inventory_number,heritage_class,title.vi,address.commune_pre2025.vi\n"
        f"{p}-1,tangible_site,Đình,xã Nhân Hòa\n{p}-2,tangible_site,Chùa,xã Không Có\n"
    )
    report = upload(catalogue, content, dry_run=True).json()
    assert report["valid"] == 1
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "address.commune_pre2025")]


def test_csv_export_then_import_keeps_every_field_of_every_demo_record(catalogue):
    demo.load_into_stack(catalogue.settings, catalogue.catalogue_name, catalogue.access_name)
    numbers = {i["record"]["inventory_number"] for i in demo.items()}
    rows = list(csv.DictReader(io.StringIO(export(catalogue, "csv"))))
    rows = [r for r in rows if r["inventory_number"] in numbers]
    assert len(rows) == len(numbers)
    p = "RT" + uuid.uuid4().hex[:6].upper() + "-"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row | {"id": "", "inventory_number": p + row["inventory_number"]})
    answer = upload(catalogue, out.getvalue())
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == len(numbers)
    stored = [json.loads(line) for line in export(catalogue, "jsonl").splitlines()]
    originals = {r["inventory_number"]: r for r in stored if r["inventory_number"] in numbers}
    copies = {r["inventory_number"]: r for r in stored if r["inventory_number"].startswith(p)}
    assert len(copies) == len(numbers)
    for number, original in originals.items():
        copy = copies[p + number]
        for record in (original, copy):
            del record["id"], record["inventory_number"]
        assert copy == original, number
