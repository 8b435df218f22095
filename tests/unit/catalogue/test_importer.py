"""Import parsing without a database: encodings, BOM, malformed CSV, JSON Lines."""

from __future__ import annotations

import pytest

from services.catalogue import importer
from shared import record_schemas as schemas
from shared.errors import BadRequest


def test_a_byte_order_mark_is_dropped():
    text = importer.decode("\ufeffinventory_number,title.vi\n".encode())
    assert text.startswith("inventory_number")


def test_a_file_that_is_not_utf8_is_refused_with_its_line():
    content = "inventory_number,title.vi\nA1,Ch\xf9a\n".encode("latin-1")
    with pytest.raises(BadRequest) as err:
        importer.decode(content)
    assert "not UTF-8" in err.value.message and err.value.details["line"] == 2


def test_unknown_csv_columns_are_refused():
    with pytest.raises(BadRequest):
        list(importer.parse("inventory_number,colour\nA1,red\n", "csv"))


def test_csv_rows_are_numbered_by_line_and_extra_cells_are_row_errors():
    rows = list(importer.parse("inventory_number,title.vi\nA1,Đền\nA2,Chùa,extra\n", "csv"))
    assert rows[0] == (2, {"inventory_number": "A1", "title.vi": "Đền"})
    assert rows[1][0] == 3 and "__error__" in rows[1][1]


def test_jsonl_lines_that_are_not_json_are_row_errors():
    rows = list(importer.parse('{"a": 1}\n\nnot json\n', "jsonl"))
    assert rows[0] == (1, {"a": 1})
    assert rows[1][0] == 3 and "__error__" in rows[1][1]


def _row(number: int, **cells: str) -> tuple[int, dict[str, str]]:
    base = {
        "inventory_number": f"A{number}",
        "heritage_class": "tangible_site",
        "title.vi": f"Đền {number}",
        "address.district_pre2025": "le_chan",
        "sources": '[{"citation": "sổ kiểm kê"}]',
    }
    return number, base | cells


def test_repeated_blocks_load_as_the_plain_schema_loads_them():
    rows = [_row(n) for n in range(2, 6)] + [_row(6, **{"rank.level": "NOT A CODE"})]
    rows += [_row(7, **{"rank.level": "NOT A CODE"}), _row(8, sources='[{"url": "ftp://x"}]')]
    plain = importer.load_rows(rows, "csv", schemas.RecordSchema())
    bulk_schema = schemas.BulkRecordSchema()
    bulk = importer.load_rows(rows, "csv", bulk_schema)
    assert [d for _, _, d in bulk[0]] == [d for _, _, d in plain[0]]
    assert bulk[1] == plain[1]
    assert {e["row"] for e in bulk[1]} == {6, 7, 8}  # the repeated bad block, on both rows
    assert bulk_schema.memo  # the address and the source were checked once


def test_the_memo_of_a_bulk_schema_is_bounded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(schemas, "MEMO_LIMIT", 3)
    schema = schemas.BulkRecordSchema()
    rows = [_row(n, **{"address.district_pre2025": f"d{n}"}) for n in range(2, 12)]
    good, report, _ = importer.load_rows(rows, "csv", schema)
    assert len(good) == 10 and not report and len(schema.memo) <= 3
