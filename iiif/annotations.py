"""W3C Web Annotation model for researchers' annotations on IIIF canvases.

Pure: checks what a client sends (motivation, textual bodies, a canvas target with an optional
``xywh`` region, visibility), and writes what the server stores back out as W3C / IIIF
Presentation 3 JSON-LD: single annotations, ``AnnotationPage`` pages of a canvas's container and
the container itself (an ``AnnotationCollection``). The server, never the client, says who wrote
an annotation and when.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ANNO_CONTEXT",
    "MEDIA_TYPE",
    "MOTIVATIONS",
    "PAGE_CONTEXT",
    "VISIBILITIES",
    "AnnotationError",
    "Body",
    "NewAnnotation",
    "Region",
    "Stored",
    "Target",
    "annotation_collection",
    "annotation_page",
    "canvas_key",
    "check_group_name",
    "check_inside",
    "pages_of_canvas",
    "parse_annotation",
    "parse_target",
    "parse_transcription",
    "parse_xywh",
    "serialise",
]

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
#: Pages of a container are both W3C Web Annotation and IIIF Presentation 3 documents.
PAGE_CONTEXT = [ANNO_CONTEXT, PRESENTATION_CONTEXT]
#: The media type of the W3C Web Annotation Protocol.
MEDIA_TYPE = f'application/ld+json; profile="{ANNO_CONTEXT}"'

MOTIVATIONS = ("commenting", "tagging", "describing", "transcribing")
VISIBILITIES = ("private", "group", "public")
FORMATS = ("text/plain", "text/html")
#: Limits of what one annotation may carry (the gateway also caps the request size).
MAX_BODIES = 10
MAX_VALUE_CHARS = 10_000
MAX_TAG_CHARS = 200
MAX_LINES = 500
#: Properties the server sets; a client may echo them back (PUT after GET), never choose them.
SERVER_SET = ("id", "created", "modified", "generator", "generated")

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
_XYWH = re.compile(r"^(?:pixel:)?(\d{1,9}),(\d{1,9}),(\d{1,9}),(\d{1,9})$")
_FRAGMENT = "http://www.w3.org/TR/media-frags/"


class AnnotationError(ValueError):
    """What is wrong with a submitted annotation: the ``field`` at fault and the ``reason``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Region:
    """A rectangle in canvas pixels (``xywh=x,y,w,h``)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def fragment(self) -> str:
        return f"xywh={self.x},{self.y},{self.w},{self.h}"


@dataclass(frozen=True)
class Target:
    """A canvas, or a region of it."""

    canvas: str
    region: Region | None = None

    @property
    def uri(self) -> str:
        return self.canvas if self.region is None else f"{self.canvas}#{self.region.fragment}"


@dataclass(frozen=True)
class Body:
    """A ``TextualBody``: the text (NFC), its format, language and purpose."""

    value: str
    format: str = "text/plain"
    language: str | None = None
    purpose: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "TextualBody", "value": self.value, "format": self.format}
        if self.language:
            out["language"] = self.language
        if self.purpose:
            out["purpose"] = self.purpose
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Body:
        return cls(
            str(data["value"]),
            str(data.get("format", "text/plain")),
            data.get("language"),
            data.get("purpose"),
        )


@dataclass(frozen=True)
class NewAnnotation:
    """What a client may decide about an annotation, checked."""

    motivation: str
    bodies: tuple[Body, ...]
    target: Target
    visibility: str = "private"
    group: str | None = None
    line: int | None = None  # order of a transcription line on its canvas

    @property
    def text(self) -> str:
        """All body text, for search."""
        return "\n".join(b.value for b in self.bodies)

    def bodies_json(self) -> list[dict[str, Any]]:
        return [b.to_json() for b in self.bodies]


def check_group_name(name: Any) -> str:
    """A research group's name: lower-case letters, digits, ``-`` and ``_`` (2–64)."""
    if not isinstance(name, str) or not _GROUP.match(name):
        raise AnnotationError("group", "a group name is 2-64 of a-z, 0-9, - and _")
    return name


def canvas_key(canvas_id: str) -> str:
    """The name of a canvas's annotation container in URLs (short, stable, any URL scheme)."""
    return hashlib.sha256(canvas_id.encode("utf-8")).hexdigest()[:20]


def pages_of_canvas(pages: Sequence[str], canvas_id: str) -> tuple[str, ...]:
    """The annotation page URLs (of ``pages``) that belong to the container of ``canvas_id``."""
    marker = f"/canvases/{canvas_key(canvas_id)}?"
    return tuple(p for p in pages if marker in p)


# targets -----------------------------------------------------------------------------------


def parse_xywh(fragment: str) -> Region:
    """A media-fragment ``xywh=`` region in pixels; percentages and empty areas are refused."""
    value = fragment[5:] if fragment.startswith("xywh=") else fragment
    if value.startswith("percent:"):
        raise AnnotationError("target", "xywh must be in pixels, not percent")
    match = _XYWH.match(value)
    if match is None:
        raise AnnotationError("target", "xywh must be x,y,w,h in whole pixels")
    x, y, w, h = (int(g) for g in match.groups())
    if w == 0 or h == 0:
        raise AnnotationError("target", "xywh must have a width and a height")
    return Region(x, y, w, h)


def check_inside(region: Region | None, width: int | None, height: int | None) -> None:
    """Refuse a region that reaches outside a canvas of ``width`` × ``height``."""
    if region is None or width is None or height is None:
        return
    if region.x + region.w > width or region.y + region.h > height:
        raise AnnotationError(
            "target",
            f"xywh={region.x},{region.y},{region.w},{region.h} is outside the canvas "
            f"({width}×{height})",
        )


def _split(uri: str) -> Target:
    if not uri.startswith(("http://", "https://")) or len(uri) > 2000:
        raise AnnotationError("target", "the target is the URL of a canvas")
    canvas, _, fragment = uri.partition("#")
    return Target(canvas, parse_xywh(fragment) if fragment else None)


def parse_target(target: Any) -> Target:
    """The canvas (and region) an annotation targets.

    Accepted: ``"canvas"``, ``"canvas#xywh=x,y,w,h"``, ``{"id": canvas, "type": "Canvas"}``, or a
    ``SpecificResource`` whose ``source`` is a canvas with at most one ``FragmentSelector``.
    """
    if isinstance(target, list):
        if len(target) != 1:
            raise AnnotationError("target", "an annotation targets exactly one canvas")
        target = target[0]
    if isinstance(target, str):
        return _split(target)
    if not isinstance(target, dict):
        raise AnnotationError("target", "the target is a canvas URL or a SpecificResource")
    if target.get("type") == "Canvas" and isinstance(target.get("id"), str):
        return _split(target["id"])
    if target.get("type") != "SpecificResource":
        raise AnnotationError("target", "the target is a canvas URL or a SpecificResource")
    source = target.get("source")
    if isinstance(source, dict):
        source = source.get("id")
    if not isinstance(source, str):
        raise AnnotationError("target", "a SpecificResource needs the canvas URL as source")
    base = _split(source)
    selector = target.get("selector")
    if isinstance(selector, list):
        if len(selector) > 1:
            raise AnnotationError("target", "at most one selector")
        selector = selector[0] if selector else None
    if selector is None:
        return base
    if (
        not isinstance(selector, dict)
        or selector.get("type") != "FragmentSelector"
        or not isinstance(selector.get("value"), str)
        or selector.get("conformsTo", _FRAGMENT) != _FRAGMENT
    ):
        raise AnnotationError("target", "the only selector accepted is an xywh FragmentSelector")
    if base.region is not None:
        raise AnnotationError("target", "give the region once, in the source or the selector")
    return Target(base.canvas, parse_xywh(selector["value"]))


# bodies ------------------------------------------------------------------------------------


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise AnnotationError(where, "the text is a string")
    text = unicodedata.normalize("NFC", value).replace("\x00", "\ufffd")
    if not text.strip():
        raise AnnotationError(where, "the text is empty")
    if len(text) > limit:
        raise AnnotationError(where, f"the text is longer than {limit} characters")
    return text


def _body(data: Any, n: int, motivation: str) -> Body:
    where = f"body[{n}]"
    if isinstance(data, str):
        data = {"type": "TextualBody", "value": data}
    if not isinstance(data, dict) or data.get("type", "TextualBody") != "TextualBody":
        raise AnnotationError(where, "bodies are TextualBody objects with a value")
    fmt = data.get("format", "text/plain")
    if fmt not in FORMATS:
        raise AnnotationError(where, f"format is one of {', '.join(FORMATS)}")
    language = data.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.match(language)):
        raise AnnotationError(where, "language is a BCP 47 tag such as vi, en or vi-Hani")
    purpose = data.get("purpose")
    if purpose is not None and purpose not in (*MOTIVATIONS, "supplementing"):
        raise AnnotationError(where, f"purpose is one of {', '.join(MOTIVATIONS)}")
    tag = motivation == "tagging" or purpose == "tagging"
    value = _text(data.get("value"), where, MAX_TAG_CHARS if tag else MAX_VALUE_CHARS)
    return Body(value, str(fmt), language, purpose)


def _bodies(doc: Mapping[str, Any], motivation: str) -> tuple[Body, ...]:
    if "bodyValue" in doc:
        if "body" in doc:
            raise AnnotationError("body", "give body or bodyValue, not both")
        return (Body(_text(doc["bodyValue"], "bodyValue", MAX_VALUE_CHARS)),)
    raw = doc.get("body")
    if raw is None:
        raise AnnotationError("body", "an annotation needs a body with text")
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_BODIES:
        raise AnnotationError("body", f"from 1 to {MAX_BODIES} bodies")
    return tuple(_body(item, n, motivation) for n, item in enumerate(items))


# the whole annotation ----------------------------------------------------------------------


def _motivation(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and value.startswith("oa:"):
        value = value[3:]
    if value not in MOTIVATIONS:
        raise AnnotationError("motivation", f"motivation is one of {', '.join(MOTIVATIONS)}")
    return str(value)


def _creator_ids(creator: Any) -> list[str | None]:
    items = creator if isinstance(creator, list) else [creator]
    return [
        i.get("id") if isinstance(i, dict) else i if isinstance(i, str) else None for i in items
    ]


def parse_annotation(doc: Any, author_id: str) -> NewAnnotation:
    """Check a submitted annotation; ``author_id`` is the creator URI the server will record.

    A ``creator`` naming anybody else is refused (the server records who is calling); ``id``,
    ``created`` and ``modified`` are ignored, so a document read can be sent back edited.
    """
    if not isinstance(doc, dict):
        raise AnnotationError("annotation", "the body is a JSON object (a W3C Annotation)")
    if doc.get("type", "Annotation") != "Annotation":
        raise AnnotationError("type", "type is Annotation")
    if "creator" in doc and any(c != author_id for c in _creator_ids(doc["creator"])):
        raise AnnotationError("creator", "the server records who wrote an annotation")
    motivation = _motivation(doc.get("motivation"))
    bodies = _bodies(doc, motivation)
    if "target" not in doc:
        raise AnnotationError("target", "an annotation needs a target canvas")
    target = parse_target(doc["target"])
    visibility = doc.get("visibility", "private")
    if visibility not in VISIBILITIES:
        raise AnnotationError("visibility", f"visibility is one of {', '.join(VISIBILITIES)}")
    group = doc.get("group")
    if visibility == "group":
        if group is None:
            raise AnnotationError("group", "group visibility needs the research group's name")
        check_group_name(group)
    elif group is not None:
        raise AnnotationError("group", "a group is given only with group visibility")
    line = doc.get("line")
    if line is not None and (
        not isinstance(line, int) or isinstance(line, bool) or not 1 <= line <= 100_000
    ):
        raise AnnotationError("line", "line is the transcription line number, from 1")
    return NewAnnotation(motivation, bodies, target, str(visibility), group, line)


def parse_transcription(doc: Any, canvas: str, author_id: str) -> list[NewAnnotation]:
    """A line-by-line transcription of one canvas: one ``transcribing`` annotation per line.

    ``{"language": "vi-Hani", "visibility": ..., "group": ..., "lines": [{"xywh": "x,y,w,h",
    "text": "...", "reading": "quốc ngữ reading (optional)"}]}``; lines are numbered in order.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("lines"), list):
        raise AnnotationError("lines", 'send {"lines": [{"xywh", "text"}, ...]}')
    lines = doc["lines"]
    if not 1 <= len(lines) <= MAX_LINES:
        raise AnnotationError("lines", f"from 1 to {MAX_LINES} lines")
    language = doc.get("language", "vi-Hani")
    out = []
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise AnnotationError(f"lines[{n - 1}]", "each line is an object with xywh and text")
        body: list[dict[str, Any]] = [
            {"type": "TextualBody", "value": line.get("text"), "language": language}
        ]
        if line.get("reading") is not None:
            body.append(
                {
                    "type": "TextualBody",
                    "value": line["reading"],
                    "language": "vi",
                    "purpose": "describing",
                }
            )
        try:
            out.append(
                parse_annotation(
                    {
                        "motivation": "transcribing",
                        "body": body,
                        "target": f"{canvas}#xywh={line.get('xywh')}",
                        "visibility": doc.get("visibility", "private"),
                        "group": doc.get("group"),
                        "line": n,
                    },
                    author_id,
                )
            )
        except AnnotationError as exc:
            raise AnnotationError(f"lines[{n - 1}].{exc.field}", exc.reason) from exc
    return out


# serialisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """An annotation as the server keeps it."""

    id: str  # its URL
    motivation: str
    bodies: Sequence[Mapping[str, Any]]
    target: Target
    creator_id: str
    creator_name: str
    created: datetime
    modified: datetime
    visibility: str
    group: str | None = None
    line: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def serialise(anno: Stored, *, context: bool = True) -> dict[str, Any]:
    """One annotation as W3C JSON-LD (valid IIIF Presentation 3 too)."""
    bodies = [dict(b) for b in anno.bodies]
    out: dict[str, Any] = {"@context": ANNO_CONTEXT} if context else {}
    out |= {
        "id": anno.id,
        "type": "Annotation",
        "motivation": anno.motivation,
        "created": _iso(anno.created),
        "modified": _iso(anno.modified),
        "creator": {"id": anno.creator_id, "type": "Person", "name": anno.creator_name},
        "body": bodies[0] if len(bodies) == 1 else bodies,
        "target": anno.target.uri,
        "visibility": anno.visibility,
    }
    if anno.group:
        out["group"] = anno.group
    if anno.line is not None:
        out["line"] = anno.line
    return out


def annotation_page(
    page_id: str,
    items: Sequence[dict[str, Any]],
    *,
    container: str,
    label: Mapping[str, Sequence[str]] | None = None,
    total: int,
    page: int,
    last_page: int,
    page_url: Callable[[int], str],
) -> dict[str, Any]:
    """One page of a canvas's annotations (``AnnotationPage``, W3C and IIIF at once).

    ``page_url(n)`` gives the URL of page ``n``; ``total`` counts the whole container.
    """
    part_of: dict[str, Any] = {"id": container, "type": "AnnotationCollection"}
    if label:
        part_of["label"] = {k: list(v) for k, v in label.items()}
    if total > 0:
        part_of["total"] = total
    doc: dict[str, Any] = {
        "@context": PAGE_CONTEXT,
        "id": page_id,
        "type": "AnnotationPage",
        "partOf": [part_of],
    }
    if page < last_page:
        doc["next"] = {"id": page_url(page + 1), "type": "AnnotationPage"}
    if page > 0:
        doc["prev"] = {"id": page_url(page - 1), "type": "AnnotationPage"}
    doc["items"] = list(items)
    return doc


def annotation_collection(
    container: str,
    *,
    label: Mapping[str, Sequence[str]],
    total: int,
    first: str,
    last: str,
) -> dict[str, Any]:
    """A canvas's container (W3C ``AnnotationCollection``): its size and its pages."""
    doc: dict[str, Any] = {
        "@context": PAGE_CONTEXT,
        "id": container,
        "type": "AnnotationCollection",
        "label": {k: list(v) for k, v in label.items()},
    }
    if total > 0:
        doc |= {
            "total": total,
            "first": {"id": first, "type": "AnnotationPage"},
            "last": {"id": last, "type": "AnnotationPage"},
        }
    return doc
