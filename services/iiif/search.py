"""Content Search 2.0 and AutoComplete 2.0 within one record's manifest.

Searches the annotations the caller may read and the record's own metadata (every vi/en text of
the record), case and diacritics ignored: PostgreSQL matches ``disan_fold`` (``unaccent``) of
the annotation text against the same word rules ``iiif.search`` highlights with.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from iiif import search as spec
from iiif.annotations import MOTIVATIONS
from services.iiif import annotation_repository as store
from services.iiif import repository as repo
from services.iiif.annotations import principal, published_record, to_json
from shared.db import DbSession
from shared.errors import BadRequest
from shared.principals import Principal
from shared.rpc import rpc

PAGE_SIZE = 50
MAX_TERMS = 10
MAX_SCAN = 500
MAX_METADATA = 300
_WORD = re.compile(r"\w+", re.UNICODE)
_LANGS = ("vi", "en", "none")


def manifest_url(base: str, record_id: str) -> str:
    return f"{base}/iiif/presentation/3/records/{record_id}/manifest"


def _query(params: Any) -> tuple[str, str | None, int, list[str]]:
    if not isinstance(params, dict):
        raise BadRequest("search parameters are a mapping")
    try:
        q = spec.check_query(params.get("q") if isinstance(params.get("q"), str) else None)
    except spec.SearchQueryError as exc:
        raise BadRequest(str(exc)) from None
    motivation = params.get("motivation") or None
    if motivation is not None and motivation not in MOTIVATIONS:
        raise BadRequest(f"motivation is one of {', '.join(MOTIVATIONS)}")
    page = str(params.get("page") or "0")
    if not page.isdigit() or len(page) > 6:
        raise BadRequest("page is a whole number from 0")
    return q, motivation, int(page), spec.ignored_parameters(params)


def _metadata(doc: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """Every language-map text of a record: (field path, language, text)."""
    if isinstance(doc, dict):
        if doc and all(k in _LANGS and isinstance(v, str) for k, v in doc.items()):
            for lang, text in doc.items():
                yield path, lang, text
            return
        for key, value in doc.items():
            yield from _metadata(value, f"{path}.{key}" if path else str(key))
    elif isinstance(doc, list):
        for n, value in enumerate(doc):
            yield from _metadata(value, f"{path}.{n}")


def _matches(text: str, words: list[str]) -> bool:
    """Every word occurs in ``text`` (the last one as a prefix): the database's rule."""
    last = len(words) - 1
    return all(spec.find_hits(text, [w], prefix_last=n == last) for n, w in enumerate(words))


def _metadata_results(
    base: str, record_id: str, doc: Any, words: list[str]
) -> list[dict[str, Any]]:
    results = []
    for path, lang, text in list(_metadata(doc))[:MAX_METADATA]:
        if _matches(text, words):
            annotation = {
                "id": f"{spec.search_url(base, record_id)}/metadata/{path}/{lang}",
                "type": "Annotation",
                "motivation": "describing",
                "body": {
                    "type": "TextualBody",
                    "value": text,
                    "language": lang,
                    "format": "text/plain",
                },
                "target": {"id": manifest_url(base, record_id), "type": "Manifest"},
            }
            results.append({"annotation": annotation, "text": text})
    return results


def _viewer(who: Principal) -> tuple[str | None, bool]:
    return (who.id if who.kind == "user" else None), "admin" in who.roles


def search(db: DbSession, base: str, who: Principal, record_id: Any, params: Any) -> dict[str, Any]:
    """One page of results: metadata first, then annotations in canvas and line order."""
    rid = published_record(db, record_id)
    q, motivation, page, ignored = _query(params)
    words = spec.query_words(q)
    service = spec.search_url(base, rid)
    if not words:
        return spec.search_page(service, q, [], motivation=motivation, total=0, ignored=ignored)
    meta: list[dict[str, Any]] = []
    if motivation in (None, "describing"):
        record = repo.get_record(db, rid)
        meta = _metadata_results(base, rid, (record or {}).get("doc"), words)
    start = page * PAGE_SIZE
    shown = meta[start : start + PAGE_SIZE]
    viewer, admin = _viewer(who)
    count, rows = store.matching(
        db,
        rid,
        spec.sql_patterns(words),
        motivation,
        viewer,
        admin,
        PAGE_SIZE - len(shown),
        max(0, start - len(meta)),
    )
    results = shown + [
        {"annotation": to_json(base, r, context=False), "text": r["body_text"]} for r in rows
    ]
    total = len(meta) + count
    if page > 0 and page * PAGE_SIZE >= total:
        raise BadRequest(f"there are only {max(1, -(-total // PAGE_SIZE))} page(s) of results")
    return spec.search_page(
        service,
        q,
        results,
        motivation=motivation,
        page=page,
        page_size=PAGE_SIZE,
        total=total,
        ignored=ignored,
    )


def autocomplete(
    db: DbSession, base: str, who: Principal, record_id: Any, params: Any
) -> dict[str, Any]:
    """Words of the annotations and metadata that start like the query's last word."""
    rid = published_record(db, record_id)
    q, motivation, _, ignored = _query(params)
    words = spec.query_words(q)
    service = spec.search_url(base, rid)
    auto = spec.autocomplete_url(base, rid)
    if not words:
        return spec.autocomplete_page(auto, service, q, [], ignored)
    prefix = words[-1]
    viewer, admin = _viewer(who)
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}

    def count(word: str, n: int) -> None:
        folded = spec.fold(word)
        if folded.startswith(prefix):
            counts[folded] += n
            forms.setdefault(folded, Counter())[word] += n

    for row in store.words_starting(
        db, rid, prefix, spec.sql_patterns([prefix])[0], motivation, viewer, admin, MAX_SCAN, 50
    ):
        count(row["word"], int(row["n"]))
    if motivation in (None, "describing"):
        record = repo.get_record(db, rid)
        for _, _, text in list(_metadata((record or {}).get("doc")))[:MAX_METADATA]:
            for word in _WORD.findall(text):
                count(word.lower(), 1)
    terms = [(forms[f].most_common(1)[0][0], n) for f, n in counts.most_common(MAX_TERMS)]
    return spec.autocomplete_page(auto, service, q, terms, ignored)


class SearchRpc:
    """The search RPCs of the iiif service (a mixin of ``IiifService``)."""

    db: DbSession
    settings: Any

    @property
    def _search_base(self) -> str:
        return str(self.settings.public_url).rstrip("/")

    @rpc
    def search_manifest(self, actor: Any, record_id: Any, params: Any) -> dict[str, Any]:
        return search(self.db, self._search_base, principal(actor), record_id, params)

    @rpc
    def autocomplete_manifest(self, actor: Any, record_id: Any, params: Any) -> dict[str, Any]:
        return autocomplete(self.db, self._search_base, principal(actor), record_id, params)
