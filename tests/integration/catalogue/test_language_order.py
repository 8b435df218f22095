"""Every language map the catalogue answers lists ``vi`` first, then ``en`` (issue 15), in the
raw JSON text, over HTTP: records, lists, facets, history, versions, diffs, vocabularies,
exports. PostgreSQL's jsonb keeps keys sorted (``en`` before ``vi``), so each of these failed
before the catalogue ordered its answers (ADR 0048)."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.catalogue.conftest import record_body


def misordered(text: str) -> list[list[str]]:
    """The key lists of every object in ``text`` that has ``vi`` or ``en`` but does not start
    with them in that order (read with the keys in the order the text has them)."""
    found: list[list[str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        wanted = [k for k in ("vi", "en") if k in keys]
        if wanted and keys[: len(wanted)] != wanted:
            found.append(keys)
        return dict(pairs)

    for line in text.splitlines() or [text]:
        if line.strip():
            json.loads(line, object_pairs_hook=hook)
    return found


NO_MAPS = ("/history", "/vocabularies")


def answer_text(catalogue: Any, path: str, role: str | None = "reviewer", **kwargs: Any) -> str:
    token = catalogue.token_for(role) if role else None
    answer = catalogue.request("GET", path, token=token, **kwargs)
    assert answer.status_code == 200, answer.text
    # history, diff and the list of vocabularies hold no maps; the others must have some
    assert '"vi"' in answer.text or path.endswith(NO_MAPS) or "/diff" in path, path
    return answer.text  # type: ignore[no-any-return]


def test_every_language_map_lists_vi_first(catalogue: Any) -> None:
    body = record_body(
        title={"en": "Temple, en first", "vi": "Đền, en trước"},
        rank={"level": "city", "decision": {"number": "12/QĐ-UBND", "date": "2019-05-02"}},
    )
    record = catalogue.create(body)
    rid, token = record["id"], catalogue.token_for("cataloguer")
    changed = {k: v for k, v in record.items() if k in body} | {
        "description": {"en": "Changed", "vi": "Đã đổi"}
    }
    put = catalogue.request(
        "PUT", f"/api/v1/records/{rid}", token=token, json=changed, headers={"If-Match": '"1"'}
    )
    assert put.status_code == 200, put.text
    published = catalogue.move(rid, "submit", "cataloguer")
    assert published.status_code == 200, published.text
    published = catalogue.move(rid, "publish", "reviewer")
    assert published.status_code == 200, published.text
    inventory = record["inventory_number"]
    paths = [
        (f"/api/v1/records/{rid}", None, {}),
        (f"/api/v1/records/{rid}", "reviewer", {}),
        (f"/api/v1/records/{rid}/history", "reviewer", {}),
        (f"/api/v1/records/{rid}/versions/1", "reviewer", {}),
        (f"/api/v1/records/{rid}/diff?from=1&to=2", "reviewer", {}),
        ("/api/v1/records", None, {"params": {"q": inventory}}),
        ("/api/v1/records/facets", None, {"params": {"q": inventory}}),
        ("/api/v1/vocabularies", None, {}),
        ("/api/v1/vocabularies/rank", None, {}),
        ("/api/v1/records/export", "reviewer", {"params": {"format": "jsonl"}}),
    ]
    wrong = {answer.url: bad for answer in (put, published) if (bad := misordered(answer.text))} | {
        path: bad
        for path, role, kwargs in paths
        if (bad := misordered(answer_text(catalogue, path, role, **kwargs)))
    }
    assert wrong == {}
    diff = json.loads(answer_text(catalogue, f"/api/v1/records/{rid}/diff?from=1&to=2"))
    assert [c["path"] for c in diff["changes"]] == ["description.vi", "description.en"]
