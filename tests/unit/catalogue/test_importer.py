"""Import parsing without a database: encodings, BOM, malformed CSV, JSON Lines."""

from __future__ import annotations

import pytest

from services.catalogue import importer
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
