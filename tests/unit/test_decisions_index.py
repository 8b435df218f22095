"""docs/decisions/README.md lists every decision record, and only records that exist; records
are numbered in one sequence of one width, and every number they had before has a redirect."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DECISIONS = ROOT / "docs" / "decisions"
INDEX = DECISIONS / "README.md"
#: a row of the redirect table: | `old` | `new` |
REDIRECT = re.compile(r"^\| `(\d+)` \| `(\d+)` \|", re.MULTILINE)


def numbers() -> dict[str, str]:
    """Each record's number, by file name."""
    return {p.name: p.name.split("-", 1)[0] for p in DECISIONS.glob("[0-9]*.md")}


def test_every_decision_record_is_in_the_index_and_numbers_are_unique() -> None:
    files = set(numbers())
    listed = set(re.findall(r"`(\d+-[^`]+\.md)`", INDEX.read_text("utf-8")))
    assert files - listed == set(), "records missing from the index"
    assert listed - files == set(), "the index names records that do not exist"
    assigned = list(numbers().values())
    assert len(assigned) == len(set(assigned)), "two records share a number"


def test_records_are_numbered_with_four_digits() -> None:
    """One width for every record (issue 16: ``0001``… beside ``020``… read as two series)."""
    odd = sorted(name for name, number in numbers().items() if len(number) != 4)
    assert odd == [], "records not numbered with four digits"


def test_every_old_number_redirects_to_a_record_that_exists() -> None:
    redirects = REDIRECT.findall(INDEX.read_text("utf-8"))
    assert redirects, "the index has no redirect table of old numbers"
    current = set(numbers().values())
    olds = [old for old, _ in redirects]
    assert len(olds) == len(set(olds)), "an old number redirects twice"
    assert all(len(old) == 3 for old in olds), "old numbers are the three-digit ones"
    missing = sorted(f"{old} → {new}" for old, new in redirects if new not in current)
    assert missing == [], "redirects to records that do not exist"
