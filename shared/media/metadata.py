"""What an uploader may say of an asset, checked: caption and section (vi/en), creator, date,
rights statement, licence, position. Pure; no I/O.

Two shapes arrive: the form fields of ``POST /api/v1/records/{id}/media`` (``caption_vi``,
``caption_en``, ``position``...) and the JSON ``metadata`` of a multipart completion, which may
also give ``caption`` and ``section`` as language maps. Both become the one stored shape
(``{"caption": {"vi", "en"}, "creator": ..., "position": 3}``) that the iiif service shows on
the canvas (ADR 0067). A key outside the list is refused, never dropped: an uploader who wrote
``title`` or ``captions`` learns it at once instead of finding an unlabelled canvas later.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from shared.errors import ValidationFailed

#: free texts, at most MAX_TEXT characters each
TEXT_KEYS = ("creator", "date", "rights_statement", "licence")
#: language maps, given as ``{key}_vi`` / ``{key}_en`` fields or (JSON) as ``{key: {vi, en}}``
LANG_KEYS = ("caption", "section")
LANGUAGES = ("vi", "en")
MAX_TEXT = 2000
MAX_POSITION = 1_000_000
#: form fields that are not metadata (the expected checksum)
OTHER_FIELDS = ("sha256",)
FORM_FIELDS = (
    tuple(f"{key}_{lang}" for key in LANG_KEYS for lang in LANGUAGES) + TEXT_KEYS + ("position",)
)

UNKNOWN_TEXT = {
    "vi": "Trường siêu dữ liệu không được hỗ trợ: chỉ nhận chú thích, phần, tác giả, ngày, "
    "quyền, giấy phép và thứ tự.",
    "en": "Unsupported metadata field: only caption, section, creator, date, rights statement, "
    "licence and position are accepted.",
}
INVALID_TEXT = {
    "vi": "Giá trị siêu dữ liệu không hợp lệ.",
    "en": "Invalid metadata value.",
}


DATE_TEXT = {
    "vi": "Ngày phải theo EDTF (ISO 8601-2), ví dụ 1930, 1930-05, 1930-05-19, 1930?, 193X, "
    "1930/1945.",
    "en": "The date must be EDTF (ISO 8601-2), e.g. 1930, 1930-05, 1930-05-19, 1930?, 193X, "
    "1930/1945.",
}
RIGHTS_TEXT = {
    "vi": "Tuyên bố quyền phải là một URI http(s), ví dụ "
    "http://rightsstatements.org/vocab/InC/1.0/.",
    "en": "The rights statement must be an http(s) URI, e.g. "
    "http://rightsstatements.org/vocab/InC/1.0/.",
}
_REASON_TEXT = {
    "unknown_metadata": UNKNOWN_TEXT,
    "invalid_date": DATE_TEXT,
    "invalid_rights_statement": RIGHTS_TEXT,
}
# one EDTF date of levels 0 and 1 (ADR 0047): a year (4 digits, or with its last digits
# unspecified: 19XX, 193X), then a month (or a season 21-24) and a day, either maybe XX;
# then ? (uncertain), ~ (approximate) or % (both)
_EDTF_DATE = re.compile(
    r"^(?P<year>-?\d{4}|\d{3}X|\d{2}XX)"
    r"(?:-(?P<month>0[1-9]|1[0-2]|2[1-4]|XX)(?:-(?P<day>0[1-9]|[12]\d|3[01]|XX))?)?[?~%]?$"
)


def _refuse(field: str, message: str, reason: str = "invalid_metadata") -> ValidationFailed:
    text = _REASON_TEXT.get(reason, INVALID_TEXT)
    return ValidationFailed(message, {"field": field, "reason": reason, "text": text})


def edtf_date(value: str) -> bool:
    """Whether ``value`` is an EDTF level 0/1 date or interval (``1930``, ``1930-05-19``,
    ``1930?``, ``193X``, ``1930/1945``, ``../1945``); full dates must exist."""
    parts = value.split("/")
    if len(parts) > 2 or not value:
        return False
    if len(parts) == 2 and parts == ["", ""]:
        return False
    return all((len(parts) == 2 and p in ("", "..")) or _one_date(p) for p in parts)


def _one_date(text: str) -> bool:
    match = _EDTF_DATE.match(text)
    if match is None:
        return False
    year, month, day = match.group("year"), match.group("month"), match.group("day")
    if day is None:
        return True  # a year, or a year and a month or season
    if not month.isdigit() or int(month) > 12:
        return month == "XX"  # a season has no days
    if "X" in year + day:
        return True
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _checked(key: str, value: str) -> str:
    """``date`` in EDTF and ``rights_statement`` as an http(s) URI; other texts as they are."""
    if key == "date" and not edtf_date(value):
        raise _refuse(key, f"date {value[:40]!r} is not an EDTF date", "invalid_date")
    if key == "rights_statement":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise _refuse(
                key, f"rights_statement {value[:80]!r} is not an http(s) URI",
                "invalid_rights_statement",
            )  # fmt: skip
    return value


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(field, f"{field} is a text")
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > MAX_TEXT:
        raise _refuse(field, f"{field} is longer than {MAX_TEXT} characters")
    return text


def _position(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise _refuse("position", "position is a whole number")
    if not 0 <= value <= MAX_POSITION:
        raise _refuse("position", f"position is from 0 to {MAX_POSITION}")
    return value


def clean_metadata(form: dict[str, str]) -> dict[str, Any]:
    """Asset metadata from an upload's form fields; an unknown field is a 422."""
    unknown = sorted(set(form) - set(FORM_FIELDS) - set(OTHER_FIELDS))
    if unknown:
        raise _refuse(
            unknown[0], f"unknown metadata field(s) {unknown}; known: {list(FORM_FIELDS)}",
            "unknown_metadata",
        )  # fmt: skip
    meta: dict[str, Any] = {}
    for key in LANG_KEYS:
        texts = {
            lang: _text(f"{key}_{lang}", form[f"{key}_{lang}"])
            for lang in LANGUAGES
            if f"{key}_{lang}" in form
        }
        texts = {lang: t for lang, t in texts.items() if t}
        if texts:
            meta[key] = texts
    for key in TEXT_KEYS:
        value = _text(key, form.get(key, ""))
        if value:
            meta[key] = _checked(key, value)
    if str(form.get("position", "")).strip():
        meta["position"] = _position(form["position"])
    return meta


def metadata_from_json(doc: Any) -> dict[str, Any]:
    """Asset metadata from a JSON object: the form's fields, or ``caption``/``section`` as
    ``{"vi": ..., "en": ...}``; ``position`` a number. Anything else is a 422."""
    if not isinstance(doc, dict):
        raise _refuse("metadata", "metadata is an object")
    form: dict[str, str] = {}
    for key, value in doc.items():
        if key in LANG_KEYS:
            if not isinstance(value, dict):
                raise _refuse(key, f"{key} is an object {{vi, en}}")
            for lang, text in value.items():
                if lang not in LANGUAGES:
                    raise _refuse(
                        f"{key}.{lang}",
                        f"{key} has languages {list(LANGUAGES)}",
                        "unknown_metadata",
                    )
                form[f"{key}_{lang}"] = _text(f"{key}.{lang}", text)
        elif key == "position":
            form[key] = str(_position(value))
        elif key in FORM_FIELDS:
            form[key] = _text(key, value)
        else:
            raise _refuse(
                key, f"unknown metadata field {key!r}; known: caption, section, "
                f"{', '.join(TEXT_KEYS)}, position", "unknown_metadata",
            )  # fmt: skip
    return clean_metadata(form)
