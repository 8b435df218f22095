"""Bulk import and export through the gateway: dry runs, row reports, all or nothing."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from services.catalogue import domain
from tests.integration.catalogue.conftest import record_body

pytestmark = pytest.mark.integration

HEADER = [
    "inventory_number",
    "heritage_class",
    "title.vi",
    "title.en",
    "rank.level",
    "location.lat",
    "location.lon",
    "periods",
]


def csv_text(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def upload(catalogue, content, fmt="csv", dry_run=False, role="cataloguer"):
    ctype = {"csv": "text/csv", "jsonl": "application/x-ndjson"}[fmt]
    data = content.encode("utf-8") if isinstance(content, str) else content
    return catalogue.request(
        "POST",
        "/api/v1/records/import",
        token=catalogue.token_for(role),
        params={"dry_run": "true"} if dry_run else {},
        data=data,
        headers={"Content-Type": f"{ctype}; charset=utf-8"},
    )


def count(catalogue, prefix):
    rows = catalogue.catalogue_sql(
        "SELECT count(*) FROM records WHERE inventory_number LIKE :p", p=prefix + "%"
    )
    return rows[0][0]


def test_dry_run_reports_each_bad_row_and_imports_nothing(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    content = csv_text(
        [
            [
                f"{p}-1",
                "tangible_site",
                "Đình Hàng Kênh",
                "Hàng Kênh communal house",
                "national",
                "20.85",
                "106.68",
                '["le_trung_hung"]',
            ],
            [f"{p}-2", "tangible_site", "", "no Vietnamese", "", "", "", ""],
            [f"{p}-3", "tangible_site", "Chùa", "", "imperial", "95", "106", ""],
            [f"{p}-1", "tangible_site", "Trùng số", "", "", "", "", ""],
            [f"{p}-5", "museum_object", "Hiện vật", "", "", "", "", "mac"],
        ]
    )
    answer = upload(catalogue, content, dry_run=True)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["rows"] == 5 and report["valid"] == 1 and report["invalid_rows"] == 4
    errors = {(e["row"], e["field"]) for e in report["errors"]}
    assert (3, "title") in errors
    assert (4, "location.lat") in errors
    assert (5, "inventory_number") in errors
    assert (6, "periods") in errors
    assert count(catalogue, p) == 0
    real = upload(catalogue, content)
    assert real.status_code == 422
    assert real.json()["error"]["details"]["invalid_rows"] == 4
    assert count(catalogue, p) == 0


def test_a_valid_csv_is_imported_as_drafts_with_versions_and_events(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    rows = [
        [f"{p}-{n}", "tangible_site", f"Đình số {n}", "", "city", "20.8", "106.7", ""]
        for n in range(50)
    ]
    answer = upload(catalogue, csv_text(rows))
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == 50
    assert count(catalogue, p) == 50
    states = catalogue.catalogue_sql(
        "SELECT DISTINCT r.state, v.action FROM records r JOIN record_versions v "
        "ON v.record_id = r.id WHERE r.inventory_number LIKE :p",
        p=p + "%",
    )
    assert states == [("draft", "created")]
    events = [
        e
        for e in catalogue.outbox("catalogue.record_created")
        if e["data"]["inventory_number"].startswith(p)
    ]
    assert len(events) == 50
    again = upload(catalogue, csv_text(rows[:1]))
    assert again.status_code == 422
    assert "already used" in again.json()["error"]["details"]["errors"][0]["reason"]


def test_a_byte_order_mark_is_accepted_and_a_wrong_encoding_is_400(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    content = csv_text([[f"{p}-1", "tangible_site", "Chùa Dư Hàng", "", "", "", "", ""]])
    bom = upload(catalogue, "\ufeff" + content, dry_run=True)
    assert bom.status_code == 200 and bom.json()["valid"] == 1
    latin = content.replace("Chùa Dư Hàng", "Chua Du Hang\xe9").encode("latin-1")
    wrong = upload(catalogue, latin, dry_run=True)
    assert wrong.status_code == 400
    assert "UTF-8" in wrong.json()["error"]["message"]


def test_unknown_columns_and_wrong_content_types_are_refused(catalogue):
    bad = upload(catalogue, "inventory_number,colour\nX,red\n", dry_run=True)
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]
    answer = catalogue.request(
        "POST",
        "/api/v1/records/import",
        token=catalogue.token_for("cataloguer"),
        json={"records": []},
    )
    assert answer.status_code == 415
    assert upload(catalogue, csv_text([]), dry_run=True).status_code == 422


def test_jsonl_import_and_export_round_trip(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    bodies = [record_body(inventory_number=f"{p}-{n}") for n in range(3)]
    lines = "\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\nnot json\n"
    bad = upload(catalogue, lines, fmt="jsonl")
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"] == [
        {"row": 4, "field": "_row", "reason": bad.json()["error"]["details"]["errors"][0]["reason"]}
    ]
    good = upload(catalogue, lines.replace("not json\n", ""), fmt="jsonl")
    assert good.status_code == 201 and good.json()["created"] == 3
    exported = catalogue.request(
        "GET",
        "/api/v1/records/export",
        token=catalogue.token_for("reviewer"),
        params={"format": "jsonl", "state": "draft"},
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    mine = [json.loads(x) for x in exported.text.splitlines() if p in x]
    assert sorted(r["inventory_number"] for r in mine) == [f"{p}-{n}" for n in range(3)]
    csv_export = catalogue.request(
        "GET",
        "/api/v1/records/export",
        token=catalogue.token_for("admin"),
        params={"format": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(csv_export.text)))
    assert list(rows[0]) == ["id", *domain.CSV_COLUMNS]
    assert any(r["inventory_number"] == f"{p}-0" for r in rows)
    assert (
        catalogue.request(
            "GET", "/api/v1/records/export", token=catalogue.token_for("researcher")
        ).status_code
        == 403
    )


def test_import_requires_an_editor(catalogue):
    answer = upload(catalogue, csv_text([]), role="reviewer", dry_run=True)
    assert answer.status_code == 403


def test_a_bad_row_after_batches_were_written_leaves_nothing(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    rows = [[f"{p}-{n}", "tangible_site", f"Đình số {n}", "", "", "", "", ""] for n in range(2500)]
    rows.append([f"{p}-last", "tangible_site", "Chùa", "", "imperial", "", "", ""])
    answer = upload(catalogue, csv_text(rows))
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["errors"] == [
        {"row": 2502, "field": "rank.level", "reason": "unknown rank term 'imperial'"}
    ]
    assert count(catalogue, p) == 0
    assert not [
        e
        for e in catalogue.outbox("catalogue.record_created")
        if e["data"]["inventory_number"].startswith(p)
    ]


def test_relations_may_point_to_rows_later_in_the_file(catalogue):
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    site_id = str(uuid.uuid4())
    festival = record_body(
        inventory_number=f"{p}-F",
        heritage_class="intangible",
        rank=None,
        intangible={"domain": "festival"},
        relations=[{"type": "held_at", "target": site_id}],
    )
    site = record_body(inventory_number=f"{p}-S") | {"id": site_id}
    lines = json.dumps(festival) + "\n" + json.dumps(site) + "\n"
    answer = upload(catalogue, lines, fmt="jsonl")
    assert answer.status_code == 201, answer.text
    dangling = record_body(
        inventory_number=f"{p}-X", relations=[{"type": "held_at", "target": str(uuid.uuid4())}]
    )
    bad = upload(catalogue, json.dumps(dangling) + "\n", fmt="jsonl")
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"][0]["field"] == "relations.target"


def test_imported_rows_get_the_columns_a_single_create_gets_and_a_known_policy(catalogue):
    """COPY path: folded sort title, facets, search vector, and a policy that came first."""
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    restricted_id, plain_id = str(uuid.uuid4()), str(uuid.uuid4())
    catalogue.catalogue_sql(
        "INSERT INTO record_policies (record_id, level, embargo_until, updated_at) "
        "VALUES (:id, 'restricted', '2031-01-01T00:00:00Z', now())",
        id=restricted_id,
    )
    tab_title = f"Đình\tLàng \\ Hàng Kênh {p}"  # a tab and a backslash survive COPY's text format
    rows = [
        record_body(inventory_number=f"{p}-R", title={"vi": f"Chùa Dư Hàng {p}"})
        | {"id": restricted_id},
        record_body(
            inventory_number=f"{p}-P",
            title={"vi": tab_title, "en": "Hang Kenh communal house"},
            rank={"level": "national"},
            address={"district_pre2025": "le_chan"},
            location={"lat": 20.85, "lon": 106.68, "approximate": False},
        )
        | {"id": plain_id},
    ]
    answer = upload(catalogue, "".join(json.dumps(r) + "\n" for r in rows), fmt="jsonl")
    assert answer.status_code == 201, answer.text
    got = {
        r[0]: r[1:]
        for r in catalogue.catalogue_sql(
            "SELECT id::text, access_level, embargo_until IS NOT NULL, title_sort, rank, "
            "district, lat, data -> 'title' ->> 'vi', "
            "search_vector @@ plainto_tsquery('simple', disan_fold(:q)) "
            "FROM records WHERE inventory_number LIKE :p",
            p=p + "%",
            q=f"dinh lang hang kenh {p}",
        )
    }
    assert got[restricted_id][:2] == ("restricted", True)
    assert got[plain_id] == (
        "public",
        False,
        f"dinh\tlang \\ hang kenh {p}".lower(),
        "national",
        "le_chan",
        20.85,
        tab_title,
        True,
    )
    versions = catalogue.catalogue_sql(
        "SELECT v.data = r.data FROM record_versions v JOIN records r ON r.id = v.record_id "
        "WHERE r.inventory_number LIKE :p",
        p=p + "%",
    )
    assert versions == [(True,), (True,)]
    catalogue.publish(plain_id)  # found by a diacritic-free search right after the import
    found = catalogue.request(
        "GET", "/api/v1/records", params={"q": f"dinh hang kenh {p}", "district": "le_chan"}
    )
    assert found.status_code == 200, found.text
    assert [i["id"] for i in found.json()["items"]] == [plain_id]


def test_ids_and_inventory_numbers_in_the_database_are_caught_in_a_later_batch(catalogue):
    """While batches are written, later batches are checked on a second connection."""
    p = "IMP-" + uuid.uuid4().hex[:6].upper()
    existing = catalogue.create(record_body(inventory_number=f"{p}-OLD"))
    fresh = [record_body(inventory_number=f"{p}-{n}") for n in range(1500)]
    lines = [json.dumps(r) for r in fresh]
    lines.append(json.dumps(record_body(inventory_number=f"{p}-new") | {"id": existing["id"]}))
    lines.append(json.dumps(record_body(inventory_number=f"{p}-old")))  # case differs
    answer = upload(catalogue, "\n".join(lines) + "\n", fmt="jsonl")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["errors"] == [
        {"row": 1501, "field": "id", "reason": "a record with this id exists"},
        {
            "row": 1502,
            "field": "inventory_number",
            "reason": f"already used by record {existing['id']}",
        },
    ]
    assert count(catalogue, p) == 1
