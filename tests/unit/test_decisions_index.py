"""docs/decisions/README.md lists every decision record, and only records that exist."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DECISIONS = ROOT / "docs" / "decisions"


def test_every_decision_record_is_in_the_index_and_numbers_are_unique() -> None:
    files = {p.name for p in DECISIONS.glob("[0-9]*.md")}
    listed = set(re.findall(r"`(\d+-[^`]+\.md)`", (DECISIONS / "README.md").read_text("utf-8")))
    assert files - listed == set(), "records missing from the index"
    assert listed - files == set(), "the index names records that do not exist"
    numbers = [name.split("-", 1)[0] for name in files]
    assert len(numbers) == len(set(numbers)), "two records share a number"
