"""Researchers' annotations: create, read, edit, delete, containers' pages, research groups.

Plain use cases over a ``DbSession`` and the acting principal, and the ``AnnotationRpc`` mixin of
``IiifService`` that exposes them. The server records who wrote an annotation and when; targets
must be canvases of the record's manifest (``xywh`` inside the canvas); edits carry the version
read (``If-Match``). Every change writes its ``iiif.annotation_*`` event to the outbox in the
same transaction, and a change that touches a public annotation marks the manifest for rebuild
(its ``annotations`` list the canvases' public pages).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from iiif import annotations as model
from services.iiif import annotation_repository as store
from services.iiif import repository as repo
from shared.contracts import iiif as _contracts  # noqa: F401 - registers the events
from shared.db import DbSession
from shared.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from shared.events import make_event
from shared.idempotency import idempotent
from shared.languages import vi_first
from shared.principals import ADMIN, CATALOGUER, RESEARCHER, REVIEWER, Principal
from shared.rpc import rpc

canvas_key = model.canvas_key

PRODUCER = "iiif"
WRITERS = frozenset({RESEARCHER, CATALOGUER, REVIEWER, ADMIN})
PAGE_SIZE = 100
CONTAINER_LABEL = {"vi": ["Chú giải của nhà nghiên cứu"], "en": ["Researchers' annotations"]}
_GROUP_LABEL_CHARS = 200


# URLs ------------------------------------------------------------------------------------------


def annotation_url(base: str, annotation_id: str) -> str:
    return f"{base}/iiif/annotations/3/{annotation_id}"


def container_url(base: str, record_id: str, key: str | None = None) -> str:
    """A record's container, or one canvas's (``key``)."""
    url = f"{base}/iiif/annotations/3/records/{record_id}"
    return url if key is None else f"{url}/canvases/{key}"


def page_url(container: str, page: int) -> str:
    return f"{container}?page={page}"


def author_url(base: str, user_id: str) -> str:
    return f"{base}/api/v1/users/{user_id}"


def _base_of(canvas_id: str) -> str:
    # canvases live under {BASE}/iiif/presentation/...; their prefix is the public base URL
    return canvas_id.split("/iiif/", 1)[0]


# who ---------------------------------------------------------------------------------------------


def principal(actor: Any) -> Principal:
    if not isinstance(actor, dict):
        raise BadRequest("actor must be a principal")
    return Principal.from_dict(actor)


def _viewer(who: Principal) -> tuple[str | None, bool]:
    """The user id whose private and group annotations ``who`` reads, and whether admin."""
    return (who.id if who.kind == "user" else None), ADMIN in who.roles


def _writer(who: Principal) -> None:
    if who.kind != "user":
        raise Forbidden("annotations are written by signed-in users")
    if not who.roles & WRITERS:
        raise Forbidden("only researchers and staff write annotations")


# checks ------------------------------------------------------------------------------------------


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"no {what} {str(value)[:64]!r}") from None


def published_record(db: DbSession, record_id: Any) -> str:
    """The id of a published record with a manifest; 404 otherwise."""
    rid = _uuid(record_id, "record")
    record = repo.get_record(db, rid)
    if record is None or record["deleted"] or record["state"] != "published":
        raise NotFound(f"no published record {rid}")
    return rid


def _invalid(exc: model.AnnotationError) -> ValidationFailed:
    return ValidationFailed(f"{exc.field}: {exc.reason}", {exc.field: [exc.reason]})


def _parse(doc: Any, base: str, who: Principal) -> model.NewAnnotation:
    try:
        return model.parse_annotation(doc, author_url(base, who.id))
    except model.AnnotationError as exc:
        raise _invalid(exc) from exc


def _check_target(db: DbSession, record_id: str, key: str | None, new: model.NewAnnotation) -> None:
    """The target is a canvas of this record's manifest (of this container), region inside."""
    canvas = repo.get_canvas(db, new.target.canvas)
    if canvas is None:
        raise _invalid(model.AnnotationError("target", "no such canvas in any manifest"))
    if str(canvas["record_id"]) != record_id:
        raise _invalid(model.AnnotationError("target", "the canvas is in another manifest"))
    if key is not None and canvas_key(new.target.canvas) != key:
        raise _invalid(model.AnnotationError("target", "the canvas is not this container's"))
    try:
        model.check_inside(new.target.region, canvas["width"], canvas["height"])
    except model.AnnotationError as exc:
        raise _invalid(exc) from exc


def _check_group(db: DbSession, who: Principal, new: model.NewAnnotation) -> None:
    if new.visibility == "group" and new.group is not None and ADMIN not in who.roles:
        if not store.is_member(db, new.group, who.id):
            raise Forbidden(f"you are not a member of the research group {new.group!r}")


def _row(new: model.NewAnnotation) -> dict[str, Any]:
    region = new.target.region
    return {
        "canvas_id": new.target.canvas,
        "canvas_key": canvas_key(new.target.canvas),
        "x": region.x if region else None,
        "y": region.y if region else None,
        "w": region.w if region else None,
        "h": region.h if region else None,
        "motivation": new.motivation,
        "bodies": new.bodies_json(),
        "body_text": new.text,
        "visibility": new.visibility,
        "grp": new.group,
        "line": new.line,
    }


# views ---------------------------------------------------------------------------------------


def etag(row: dict[str, Any]) -> str:
    return f'"{row["version"]}"'


def to_json(base: str, row: dict[str, Any], context: bool = True) -> dict[str, Any]:
    region = model.Region(row["x"], row["y"], row["w"], row["h"]) if row["x"] is not None else None
    stored = model.Stored(
        id=annotation_url(base, str(row["annotation_id"])),
        motivation=row["motivation"],
        bodies=row["bodies"],
        target=model.Target(row["canvas_id"], region),
        creator_id=author_url(base, row["author_id"]),
        creator_name=row["author_name"],
        created=row["created_at"],
        modified=row["updated_at"],
        visibility=row["visibility"],
        group=row["grp"],
        line=row["line"],
    )
    return model.serialise(stored, context=context)


def _answer(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"annotation": to_json(base, row), "etag": etag(row)}


def _announce(
    db: DbSession, event_type: str, row: dict[str, Any], who: Principal, cid: str | None
) -> None:
    data = {
        "annotation_id": str(row["annotation_id"]),
        "record_id": str(row["record_id"]),
        "canvas_id": row["canvas_id"],
        "motivation": row["motivation"],
        "visibility": row["visibility"],
        "version": row["version"],
    }
    db.publish(
        make_event(event_type, data, producer=PRODUCER, actor=who.subject, correlation_id=cid)
    )


def _touches_manifest(db: DbSession, record_id: str, *visibilities: str) -> None:
    """A public annotation is listed in its record's manifest: mark it for rebuild, in this
    transaction (the manifests module reads the annotations, so this one does not import it)."""
    if "public" in visibilities:
        repo.mark_stale(db, record_id)


# use cases ---------------------------------------------------------------------------------------


def create(
    db: DbSession,
    base: str,
    who: Principal,
    record_id: Any,
    key: str | None,
    doc: Any,
    cid: str | None,
) -> dict[str, Any]:
    _writer(who)
    rid = published_record(db, record_id)
    if key is not None:
        _canvas_of(db, rid, key)
    new = _parse(doc, base, who)
    _check_target(db, rid, key, new)
    _check_group(db, who, new)
    return _answer(base, _insert(db, rid, new, who, cid))


def _insert(
    db: DbSession, rid: str, new: model.NewAnnotation, who: Principal, cid: str | None
) -> dict[str, Any]:
    row = store.insert(
        db,
        _row(new)
        | {
            "annotation_id": str(uuid.uuid4()),
            "record_id": rid,
            "author_id": who.id,
            "author_name": who.name or who.id,
        },
    )
    _announce(db, "iiif.annotation_created", row, who, cid)
    _touches_manifest(db, rid, row["visibility"])
    return row


def create_transcription(
    db: DbSession, base: str, who: Principal, record_id: Any, key: str, doc: Any, cid: str | None
) -> dict[str, Any]:
    """A line-by-line transcription of one canvas: all lines are created, or none."""
    _writer(who)
    rid = published_record(db, record_id)
    canvas = _canvas_of(db, rid, key)
    try:
        lines = model.parse_transcription(doc, canvas, author_url(base, who.id))
    except model.AnnotationError as exc:
        raise _invalid(exc) from exc
    rows = []
    for n, new in enumerate(lines):
        try:
            _check_target(db, rid, key, new)
        except ValidationFailed as exc:
            raise ValidationFailed(f"lines[{n}].{exc.message}", exc.details) from exc
        _check_group(db, who, new)
        rows.append(_insert(db, rid, new, who, cid))
    return {"items": [to_json(base, r, context=False) for r in rows]}


def _canvas_of(db: DbSession, record_id: str, key: str) -> str:
    for canvas in repo.canvases_of(db, record_id):
        if canvas_key(canvas["canvas_id"]) == key:
            return str(canvas["canvas_id"])
    raise NotFound(f"record {record_id} has no canvas {key[:64]!r}")


def _readable(db: DbSession, who: Principal, annotation_id: Any, lock: bool) -> dict[str, Any]:
    aid = _uuid(annotation_id, "annotation")
    row = store.get(db, aid, lock=lock)
    viewer, admin = _viewer(who)
    hidden = row is not None and not (
        admin
        or row["visibility"] == "public"
        or (viewer is not None and row["author_id"] == viewer)
        or (
            viewer is not None
            and row["visibility"] == "group"
            and store.is_member(db, row["grp"], viewer)
        )
    )
    if row is None or hidden:
        raise NotFound(f"no annotation {aid}")
    published_record(db, row["record_id"])
    return row


def read(db: DbSession, base: str, who: Principal, annotation_id: Any) -> dict[str, Any]:
    row = _readable(db, who, annotation_id, lock=False)
    return _answer(base, row) | {"record_id": str(row["record_id"])}


def _editable(
    db: DbSession, who: Principal, annotation_id: Any, expected_version: Any
) -> dict[str, Any]:
    _writer(who)
    row = _readable(db, who, annotation_id, lock=True)
    if row["author_id"] != who.id and ADMIN not in who.roles:
        raise Forbidden("only the author (or an administrator) changes an annotation")
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise BadRequest("expected_version is the version read (its ETag)")
    if row["version"] != expected_version:
        raise PreconditionFailed(
            f"the annotation is at version {row['version']}, not {expected_version}: read it again"
        )
    return row


def update(
    db: DbSession,
    base: str,
    who: Principal,
    annotation_id: Any,
    doc: Any,
    expected_version: Any,
    cid: str | None,
) -> dict[str, Any]:
    row = _editable(db, who, annotation_id, expected_version)
    rid = str(row["record_id"])
    new = _parse(doc, base, who if row["author_id"] == who.id else _author(row))
    _check_target(db, rid, None, new)
    _check_group(db, who, new)
    updated = store.update(db, str(row["annotation_id"]), _row(new))
    _announce(db, "iiif.annotation_updated", updated, who, cid)
    _touches_manifest(db, rid, row["visibility"], updated["visibility"])
    return _answer(base, updated)


def _author(row: dict[str, Any]) -> Principal:
    return Principal("user", row["author_id"], row["author_name"])


def delete(
    db: DbSession,
    who: Principal,
    annotation_id: Any,
    expected_version: Any,
    cid: str | None,
) -> dict[str, Any]:
    row = _editable(db, who, annotation_id, expected_version)
    store.delete(db, str(row["annotation_id"]))
    _announce(db, "iiif.annotation_deleted", row, who, cid)
    _touches_manifest(db, str(row["record_id"]), row["visibility"])
    return {"deleted": str(row["annotation_id"])}


def _page_number(value: Any) -> int | None:
    if value is None or value == "":
        return None
    text = str(value)
    if not text.isdigit() or len(text) > 6:
        raise BadRequest("page is a whole number from 0")
    return int(text)


def container(
    db: DbSession, base: str, who: Principal, record_id: Any, key: Any, page: Any
) -> dict[str, Any]:
    """A container (``AnnotationCollection``) or one of its pages, and its ETag."""
    rid = published_record(db, record_id)
    canvas = None if key is None else str(key)
    if canvas is not None:
        _canvas_of(db, rid, canvas)
    viewer, admin = _viewer(who)
    number = _page_number(page)
    url = container_url(base, rid, canvas)
    total = store.count(db, rid, canvas, viewer, admin)
    last = max(0, (total - 1) // PAGE_SIZE)
    if number is None:
        doc = model.annotation_collection(
            url,
            label=CONTAINER_LABEL,
            total=total,
            first=page_url(url, 0),
            last=page_url(url, last),
        )
    else:
        if number > last:
            raise NotFound(f"the container has {last + 1} page(s)")
        rows = store.page(db, rid, canvas, viewer, admin, PAGE_SIZE, number * PAGE_SIZE)
        doc = model.annotation_page(
            page_url(url, number),
            [to_json(base, r, context=False) for r in rows],
            container=url,
            label=CONTAINER_LABEL,
            total=total,
            page=number,
            last_page=last,
            page_url=lambda n: page_url(url, n),
        )
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    tag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    return {"body": body, "etag": tag, "personal": viewer is not None or admin}


# for the manifest (part of IiifService's build) -------------------------------------------------


def canvas_annotation_pages(
    session: DbSession, record_id: str, base_url: str | None = None
) -> dict[str, list[str]]:
    """For each canvas of a record with public annotations, its first annotation page URL.

    Manifests list these in each Canvas's ``annotations`` (where viewers such as Mirador look).
    """
    pages: dict[str, list[str]] = {}
    for row in store.public_canvases(session, record_id):
        base = base_url if base_url is not None else _base_of(row["canvas_id"])
        url = container_url(base.rstrip("/"), record_id, row["canvas_key"])
        pages[row["canvas_id"]] = [page_url(url, 0)]
    return pages


def public_annotation_pages(
    session: DbSession, record_id: str, base_url: str | None = None
) -> list[str]:
    """The annotation page URLs to list in a record's manifest ``annotations`` (public only)."""
    return [
        url
        for urls in canvas_annotation_pages(session, record_id, base_url).values()
        for url in urls
    ]


# research groups ---------------------------------------------------------------------------------


def put_group(db: DbSession, who: Principal, name: Any, payload: Any) -> dict[str, Any]:
    """Create or replace a research group (administrators): its vi/en label and member ids."""
    if ADMIN not in who.roles:
        raise Forbidden("only administrators manage research groups")
    try:
        name = model.check_group_name(name)
    except model.AnnotationError as exc:
        raise _invalid(exc) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("send {label: {vi, en}, members: [user ids]}")
    label, members = payload.get("label"), payload.get("members", [])
    if (
        not isinstance(label, dict)
        or not isinstance(label.get("vi"), str)
        or not label["vi"].strip()
        or any(not isinstance(v, str) or len(v) > _GROUP_LABEL_CHARS for v in label.values())
        or any(k not in ("vi", "en") for k in label)
    ):
        raise ValidationFailed("label: a language map with vi (and en), at most 200 characters")
    if (
        not isinstance(members, list)
        or len(members) > 1000
        or any(not isinstance(m, str) or not 0 < len(m) <= 64 for m in members)
    ):
        raise ValidationFailed("members: a list of user ids")
    store.put_group(db, name, dict(label), sorted(set(members)), who.subject)
    return _group_view(next(g for g in store.groups(db, None) if g["name"] == name))


def _group_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "label": vi_first({k: row["label"][k] for k in ("vi", "en") if k in row["label"]}),
        "members": list(row["members"]),
        "updated_by": row["updated_by"],
        "updated_at": row["updated_at"].isoformat(),
    }


def list_groups(db: DbSession, who: Principal) -> list[dict[str, Any]]:
    """Every group for administrators; a user's own groups otherwise."""
    if ADMIN in who.roles:
        return [_group_view(g) for g in store.groups(db, None)]
    if who.kind != "user":
        return []
    return [_group_view(g) for g in store.groups(db, who.id)]


# the RPC face (a mixin of IiifService) -----------------------------------------------------------


class AnnotationRpc:
    """The annotation RPCs of the iiif service; ``actor`` is the caller's principal dict."""

    db: DbSession
    settings: Any
    correlation: Any  # shared.service.Correlation: the request's id as a str

    @property
    def _public_base(self) -> str:
        return str(self.settings.public_url).rstrip("/")

    @rpc
    @idempotent
    def create_annotation(
        self, actor: Any, record_id: Any, canvas: Any, doc: Any
    ) -> dict[str, Any]:
        """Add an annotation to a record's container (``canvas`` None) or a canvas's."""
        return create(
            self.db,
            self._public_base,
            principal(actor),
            record_id,
            None if canvas is None else str(canvas),
            doc,
            self.correlation or None,
        )

    @rpc
    @idempotent
    def create_transcription(
        self, actor: Any, record_id: Any, canvas: Any, doc: Any
    ) -> dict[str, Any]:
        return create_transcription(
            self.db,
            self._public_base,
            principal(actor),
            record_id,
            str(canvas),
            doc,
            self.correlation or None,
        )

    @rpc
    def get_annotation(self, actor: Any, annotation_id: Any) -> dict[str, Any]:
        return read(self.db, self._public_base, principal(actor), annotation_id)

    @rpc
    @idempotent
    def update_annotation(
        self, actor: Any, annotation_id: Any, doc: Any, expected_version: Any
    ) -> dict[str, Any]:
        return update(
            self.db,
            self._public_base,
            principal(actor),
            annotation_id,
            doc,
            expected_version,
            self.correlation or None,
        )

    @rpc
    @idempotent
    def delete_annotation(
        self, actor: Any, annotation_id: Any, expected_version: Any
    ) -> dict[str, Any]:
        return delete(
            self.db, principal(actor), annotation_id, expected_version, self.correlation or None
        )

    @rpc
    def get_annotations(
        self, actor: Any, record_id: Any, canvas: Any = None, page: Any = None
    ) -> dict[str, Any]:
        """A container or one of its pages as ``{"body", "etag", "personal"}``."""
        return container(self.db, self._public_base, principal(actor), record_id, canvas, page)

    @rpc
    @idempotent
    def put_annotation_group(self, actor: Any, name: Any, payload: Any) -> dict[str, Any]:
        return put_group(self.db, principal(actor), name, payload)

    @rpc
    def list_annotation_groups(self, actor: Any) -> list[dict[str, Any]]:
        return list_groups(self.db, principal(actor))
