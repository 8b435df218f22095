"""IIIF Content Search 2.0 and AutoComplete 2.0 documents, and hit highlighting.

Pure: the service finds the matching texts; this module says where the services live, checks the
query, folds text the way the database does (case and diacritics never matter), finds the hits
in a text and writes the ``AnnotationPage`` of results and the ``TermPage`` of completions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "CONTEXT",
    "MAX_QUERY_CHARS",
    "Hit",
    "SearchQueryError",
    "autocomplete_page",
    "autocomplete_url",
    "check_query",
    "find_hits",
    "fold",
    "query_words",
    "search_page",
    "search_service",
    "search_url",
    "sql_patterns",
]

CONTEXT = "http://iiif.io/api/search/2/context.json"
#: Longest query accepted; longer ones are refused with 400 before any database work.
MAX_QUERY_CHARS = 500
#: At most this many words of a query count.
MAX_WORDS = 12
#: Characters of context on each side of a hit (TextQuoteSelector prefix/suffix).
CONTEXT_CHARS = 30
#: Parameters of the spec this service does not support; they are reported in ``ignored``.
UNSUPPORTED = ("user", "date")
SUPPORTED = ("q", "motivation", "page")

_WORD = re.compile(r"\w+", re.UNICODE)
# letters that NFD does not decompose but unaccent folds (đ/Đ is the one Vietnamese needs)
_EXTRA = str.maketrans(dict(zip("đĐðÐøØłŁ", "ddddooll", strict=True)))


class SearchQueryError(ValueError):
    """A query the service refuses (400): empty, too long, or with an unknown parameter value."""


def search_url(base_url: str, record_id: str) -> str:
    """The Content Search 2.0 endpoint of one record's manifest."""
    return f"{base_url.rstrip('/')}/iiif/search/2/records/{record_id}"


def autocomplete_url(base_url: str, record_id: str) -> str:
    """The AutoComplete 2.0 endpoint that goes with ``search_url``."""
    return search_url(base_url, record_id) + "/autocomplete"


def search_service(base_url: str, record_id: str) -> dict[str, Any]:
    """The ``SearchService2`` and its ``AutoCompleteService2``, for a manifest's ``service``."""
    return {
        "id": search_url(base_url, record_id),
        "type": "SearchService2",
        "service": [{"id": autocomplete_url(base_url, record_id), "type": "AutoCompleteService2"}],
    }


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch.translate(_EXTRA))
    base = "".join(c for c in decomposed if not unicodedata.combining(c)) or ch
    return base.lower()[0]


def fold(text: str) -> str:
    """Lower case without diacritics, one character per input character (hits map back).

    Matches PostgreSQL ``lower(unaccent(...))`` for Vietnamese; combining marks of decomposed
    input fold to themselves, so callers fold NFC text.
    """
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


def check_query(raw: str | None) -> str:
    """The query text, NFC, trimmed; empty or longer than ``MAX_QUERY_CHARS`` is refused."""
    if raw is None or not raw.strip():
        raise SearchQueryError("q is required: the words to search for")
    if len(raw) > MAX_QUERY_CHARS:
        raise SearchQueryError(f"q is at most {MAX_QUERY_CHARS} characters")
    return unicodedata.normalize("NFC", raw).strip()


def query_words(q: str) -> list[str]:
    """The folded words of a query (at most ``MAX_WORDS``)."""
    return [fold(w) for w in _WORD.findall(unicodedata.normalize("NFC", q))][:MAX_WORDS]


@dataclass(frozen=True)
class Hit:
    """One match in a text: where it starts and ends (characters of the NFC text)."""

    start: int
    end: int

    def selector(self, text: str, context: int = CONTEXT_CHARS) -> dict[str, str]:
        """The ``TextQuoteSelector`` of this hit: ``prefix``, ``exact``, ``suffix``."""
        return {
            "type": "TextQuoteSelector",
            "prefix": text[max(0, self.start - context) : self.start],
            "exact": text[self.start : self.end],
            "suffix": text[self.end : self.end + context],
        }


def _is_ideographic(word: str) -> bool:
    return any(unicodedata.name(c, "").startswith("CJK") for c in word)


def _rules(words: Sequence[str], prefix_last: bool) -> list[tuple[str, bool, bool]]:
    """For each word: the word, whether it must start a word, whether it must end one.

    Latin-script words match whole words (the last one as a prefix, for type-ahead); Hán-Nôm
    is written without spaces, so an ideographic word matches anywhere.
    """
    rules = []
    for n, word in enumerate(words):
        if _is_ideographic(word):
            rules.append((word, False, False))
        else:
            rules.append((word, True, not (prefix_last and n == len(words) - 1)))
    return rules


def find_hits(text: str, words: Sequence[str], prefix_last: bool = True) -> list[Hit]:
    """Where the folded ``words`` occur in ``text`` (NFC), in text order, without overlaps.

    The same rule as ``sql_patterns``, so every text the database matched has a hit.
    """
    folded = fold(text)
    spans: list[tuple[int, int]] = []
    for word, starts, ends in _rules(words, prefix_last):
        pattern = ("(?<!\\w)" if starts else "") + re.escape(word) + ("(?!\\w)" if ends else "")
        for m in re.finditer(pattern, folded):
            end = m.end()
            if starts and not ends:  # a prefix: highlight the whole word
                end = _WORD.match(folded, m.start()).end()  # type: ignore[union-attr]
            spans.append((m.start(), end))
    hits: list[Hit] = []
    for start, end in sorted(spans):
        if hits and start < hits[-1].end:
            continue
        hits.append(Hit(start, end))
    return hits


def sql_patterns(words: Sequence[str], prefix_last: bool = True) -> list[str]:
    """PostgreSQL regular expressions (one per word, all must match a folded text)."""
    return [
        ("\\m" if starts else "") + word + ("\\M" if ends else "")
        for word, starts, ends in _rules(words, prefix_last)
    ]


def _page_url(base: str, params: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{base}?{query}" if query else base


def search_page(
    service_url: str,
    q: str,
    results: Iterable[dict[str, Any]],
    *,
    motivation: str | None = None,
    page: int = 0,
    page_size: int = 50,
    total: int,
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """One ``AnnotationPage`` of search results with highlighting annotations.

    Each result is ``{"annotation": <the matched annotation>, "text": <its searchable text>}``:
    the annotation is listed in ``items`` and every hit in its text becomes a ``highlighting``
    annotation with a ``TextQuoteSelector`` in ``annotations``.
    """
    words = query_words(q)
    params = {"q": q, "motivation": motivation}
    page_id = _page_url(service_url, params | ({"page": page} if page else {}))
    items: list[dict[str, Any]] = []
    highlights: list[dict[str, Any]] = []
    for result in results:
        anno = result["annotation"]
        items.append(anno)
        text = result["text"]
        for hit in find_hits(text, words):
            highlights.append(
                {
                    "id": f"{page_id}#hit-{len(highlights) + 1}",
                    "type": "Annotation",
                    "motivation": "highlighting",
                    "target": {
                        "type": "SpecificResource",
                        "source": {"id": anno["id"], "type": "Annotation"},
                        "selector": [hit.selector(text)],
                    },
                }
            )
    doc: dict[str, Any] = {"@context": CONTEXT, "id": page_id, "type": "AnnotationPage"}
    last_page = max(0, (total - 1) // page_size)
    if total > page_size:
        doc["partOf"] = {
            "id": _page_url(service_url, params),
            "type": "AnnotationCollection",
            "total": total,
            "first": {"id": _page_url(service_url, params), "type": "AnnotationPage"},
            "last": {
                "id": _page_url(service_url, params | {"page": last_page}),
                "type": "AnnotationPage",
            },
        }
        doc["startIndex"] = page * page_size
        if page < last_page:
            doc["next"] = {
                "id": _page_url(service_url, params | {"page": page + 1}),
                "type": "AnnotationPage",
            }
        if page > 0:
            doc["prev"] = {
                "id": _page_url(service_url, params | ({"page": page - 1} if page > 1 else {})),
                "type": "AnnotationPage",
            }
    doc["items"] = items
    if highlights:
        doc["annotations"] = [{"type": "AnnotationPage", "items": highlights}]
    if ignored:
        doc["ignored"] = sorted(set(ignored))
    return doc


def autocomplete_page(
    autocomplete_service_url: str,
    search_service_url: str,
    q: str,
    terms: Iterable[tuple[str, int]],
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``TermPage`` of completions: each term with how often it occurs and its search URL."""
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": _page_url(autocomplete_service_url, {"q": q}),
        "type": "TermPage",
        "items": [
            {
                "value": value,
                "total": total,
                "service": [
                    {"id": _page_url(search_service_url, {"q": value}), "type": "SearchService2"}
                ],
            }
            for value, total in terms
        ],
    }
    if ignored:
        doc["ignored"] = sorted(set(ignored))
    return doc


def ignored_parameters(params: Iterable[str]) -> list[str]:
    """The request parameters this service does not act on (the spec's ``ignored``)."""
    return sorted(p for p in set(params) if p in UNSUPPORTED)
