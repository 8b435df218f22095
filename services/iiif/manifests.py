"""The iiif service's use cases: (re)build, store, remove and serve manifests and collections.

A manifest is built from the projection alone (record document, assets, policy, vocabulary
labels, public annotation pages) and stored as the exact bytes served, with a strong ETag.
Each build that changes the bytes appends Change Discovery activities and announces
``iiif.manifest_published``; a record that leaves ``published`` loses its manifest (404), gets a
Delete activity and ``iiif.manifest_removed``. Activities are written last in their transaction,
under the stream's lock, so they are numbered in commit order (ADR 0060).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from iiif import discovery
from iiif.auth import probe_service
from iiif.presentation import build_collection, build_manifest
from iiif.search import search_service
from services.iiif import domain
from services.iiif import repository as repo
from services.iiif.annotations import public_annotation_pages
from shared.contracts import iiif as _contracts  # noqa: F401 - registers the events
from shared.db import DbSession
from shared.errors import BadRequest, NotFound
from shared.events import make_event

log = logging.getLogger(__name__)

PRODUCER = "iiif"


def etag_of(body: str) -> str:
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


#: the code a manifest's bytes depend on; a change in any of them rebuilds every manifest
BUILDER_MODULES = (
    "iiif.presentation.build",
    "iiif.presentation.spec",
    "iiif.annotations",
    "iiif.auth",
    "iiif.search",
    "services.iiif.domain",
    __name__,
)


def builder_fingerprint(base: str) -> str:
    """What the stored manifests depend on besides the projection: the builder's code and the
    public URL every id starts with."""
    digest = hashlib.sha256(base.encode("utf-8"))
    for name in BUILDER_MODULES:
        digest.update(Path(str(importlib.import_module(name).__file__)).read_bytes())
    return digest.hexdigest()


def rebuild_if_builder_changed(db: DbSession, base: str) -> int:
    """Mark every stored manifest stale when this release's builder, or the public URL, differs
    from the one that built them (the stale timer and reads then rebuild them); how many."""
    if not repo.claim_fingerprint(db, builder_fingerprint(base)):
        return 0
    marked = repo.mark_all_stale(db)
    if marked:
        log.info("manifest builder or public URL changed: %d manifests to rebuild", marked)
    return marked


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


# hooks for the annotation part (services/iiif/annotations.py) -------------------------------


def canvas_size(session: DbSession, canvas_url: str) -> tuple[int, int] | None:
    """Width and height of a canvas of a manifest this service built, or None."""
    row = repo.get_canvas(session, canvas_url)
    if row is None or row["width"] is None or row["height"] is None:
        return None
    return int(row["width"]), int(row["height"])


def _annotation_pages(db: DbSession, base: str, record_id: str) -> list[str]:
    return public_annotation_pages(db, record_id, base)


def _search_service(base: str, record_id: str) -> list[dict[str, Any]]:
    return [search_service(base, record_id)]


def _probe(base: str, resource_id: str) -> dict[str, Any] | None:
    return probe_service(base, resource_id)


# building ------------------------------------------------------------------------------------


def build_from(
    base: str,
    record: dict[str, Any] | None,
    policy: dict[str, Any] | None,
    assets: list[dict[str, Any]],
    labels: domain.Labels,
    annotation_pages: list[str],
    asset_policies: dict[str, dict[str, Any]] | None = None,
) -> domain.Built | None:
    """The manifest of a published record from its projection rows, or None: a record that is
    not published, or whose media show nothing yet (no ready asset), has no manifest."""
    if record is None or record["deleted"] or record["state"] != "published":
        return None
    if record["doc"] is None:
        return None
    record_id = str(record["record_id"])
    level = domain.effective_level(policy)
    inputs = domain.Inputs(
        base=base,
        record=record["doc"],
        assets=[
            a | {"level": domain.effective_level((asset_policies or {}).get(str(a["asset_id"])))}
            for a in assets
            if a["status"] == "ready"
        ],
        level=level,
        labels=labels,
        annotation_pages=annotation_pages,
        services=_search_service(base, record_id),
    )
    spec, canvases = domain.manifest_spec(inputs, _probe)
    if not canvases:  # Presentation 3.0 §3.4: a Manifest has at least one Canvas (ADR 0067)
        return None
    body = dumps(build_manifest(spec))
    return domain.Built(
        record_id=record_id,
        body=body,
        etag=etag_of(body),
        public=level == domain.OPEN,
        heritage_class=str(record["heritage_class"]),
        collections=domain.memberships(record["doc"]),
        title_sort=domain.title_sort(record["doc"]),
        label=dict(record["doc"]["title"]),
        canvases=canvases,
        version=int(record["version"]),
    )


def build(db: DbSession, base: str, record_id: str) -> domain.Built | None:
    """The manifest of a published record from the projection, or None when not published."""
    record = repo.get_record(db, record_id)
    if record is None or record["state"] != "published" or record["deleted"]:
        return None
    assets = repo.assets_of(db, record_id)
    return build_from(
        base,
        record,
        repo.get_policy(db, record_id),
        assets,
        repo.labels(db),
        _annotation_pages(db, base, record_id),
        repo.policies_by_id(db, [str(a["asset_id"]) for a in assets]),
    )


def _published_event(
    base: str, built: domain.Built, created: bool, correlation_id: str | None
) -> Any:
    return make_event(
        "iiif.manifest_published",
        {
            "record_id": built.record_id,
            "manifest_url": domain.manifest_url(base, built.record_id),
            "etag": built.etag,
            "record_version": built.version,
            "canvases": len(built.canvases),
            "created": created,
        },
        producer=PRODUCER,
        correlation_id=correlation_id,
    )


def refresh(db: DbSession, base: str, record_id: str, correlation_id: str | None) -> str:
    """Bring a record's stored manifest in line with the projection; returns what happened.

    The manifest row is locked first, so every path that refreshes a record (events, the stale
    timer, which already holds the lock, a read finding it stale) takes its locks in one order
    and two refreshes of one record never deadlock over its canvases. Its activities are the
    last statements: the caller commits right after (every handler does).
    """
    outcome, acts = _refresh(db, base, record_id, correlation_id)
    append_activities(db, base, acts)
    return outcome


def _refresh(
    db: DbSession, base: str, record_id: str, correlation_id: str | None
) -> tuple[str, list[tuple[str, str, str]]]:
    """:func:`refresh` without writing its activities: what happened and the activities."""
    repo.lock_manifest(db, record_id)
    built = build(db, base, record_id)
    old = repo.get_manifest(db, record_id)
    url = domain.manifest_url(base, record_id)
    if built is None:
        record = repo.get_record(db, record_id)
        if record is not None and removal_reason(record) in ("deleted", "no_content"):
            repo.replace_canvases(db, record_id, [])
        if old is None:
            return "absent", []
        repo.delete_manifest(db, record_id)
        repo.queue_mirror(db, [record_id])
        acts = [("Delete", url, "Manifest")]
        acts += [
            ("Update", domain.collection_url(base, c), "Collection") for c in old["collections"]
        ]
        reason = removal_reason(record)
        db.publish(
            make_event(
                "iiif.manifest_removed",
                {"record_id": record_id, "manifest_url": url, "reason": reason},
                producer=PRODUCER,
                correlation_id=correlation_id,
            )
        )
        return "deleted", acts
    repo.replace_canvases(db, record_id, built.canvases)
    if _same(old, built):
        return "unchanged", []
    repo.store_manifest(db, **built.stored())
    repo.queue_mirror(db, [record_id])
    if old is not None and old["etag"] == built.etag:  # visibility or staleness only
        return "unchanged", []
    db.publish(_published_event(base, built, old is None, correlation_id))
    return ("created" if old is None else "updated"), domain.activities_for_change(base, old, built)


def removal_reason(record: dict[str, Any] | None) -> str:
    """Why a record has no manifest (``iiif.manifest_removed``'s reason, the 404's reason)."""
    if record is None or record["deleted"]:
        return "deleted"
    if record["state"] != "published":
        return "withdrawn"
    return "no_content"


def append_activities(db: DbSession, base: str, acts: list[tuple[str, str, str]]) -> None:
    """Write a transaction's activities: its last statements before the commit (ADR 0060).

    The stream's lock is taken first, so no other transaction numbers activities until this one
    ends: sequence order is commit order, and a harvester that read the stream up to some point
    never finds an activity appear before it later (Change Discovery 1.0 reads newest last and
    stops at the last activity it saw). Collection lifecycles are decided under the lock too,
    from what is committed, so two transactions never both create one collection.
    """
    if not acts:
        return
    repo.lock_activities(db)
    repo.add_activities(db, _lifecycle(db, base, acts))


def _lifecycle(
    db: DbSession, base: str, acts: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """A collection Update of a collection not (or no longer) in the stream is a Create; one
    that left it empty, a Delete (``all`` is never deleted: it is served empty).

    Called after the manifest rows are written, so sizes are those after the changes; a
    collection that is empty and was never in the stream (entered and left in one transaction)
    gets no activity.
    """
    prefix = domain.collection_url(base, "")
    names = {
        object_id[len(prefix) :]
        for kind, object_id, object_type in acts
        if object_type == "Collection" and kind == "Update" and object_id.startswith(prefix)
    }
    states = repo.collection_states(db, prefix, sorted(names))
    out = []
    for kind, object_id, object_type in acts:
        if object_type == "Collection" and kind == "Update" and object_id.startswith(prefix):
            name = object_id[len(prefix) :]
            nonempty, existed = states[name]
            if not nonempty and name != "all":
                if not existed:
                    continue
                kind = "Delete"
            elif not existed:
                kind = "Create"
        out.append((kind, object_id, object_type))
    return out


def _same(old: dict[str, Any] | None, built: domain.Built) -> bool:
    """Nothing to store: same bytes, same visibility, not marked for rebuild."""
    return (
        old is not None
        and old["etag"] == built.etag
        and not old["stale"]
        and bool(old["public"]) == built.public
    )


def rebuild_stale(db: DbSession, base: str, limit: int) -> int:
    """Refresh up to ``limit`` records marked for rebuild; their activities are written once,
    at the end (one Update per collection), so the stream's lock is held only until commit."""
    ids = repo.stale_ids(db, limit)
    acts: list[tuple[str, str, str]] = []
    for record_id in ids:
        acts += _refresh(db, base, record_id, None)[1]
    append_activities(db, base, _collapse(acts))
    return len(ids)


def rebuild_all(
    db: DbSession, base: str, correlation_id: str | None, batch: int = 500
) -> dict[str, Any]:
    """Rebuild every published record's manifest, ``batch`` records per few statements.

    The activities of the whole rebuild are written at its end (one Update per collection), so
    the stream's lock is held only until commit, not for the rebuild.
    """
    started = time.monotonic()
    counts: dict[str, int] = {}
    labels = repo.labels(db)
    ids = repo.published_ids(db)
    acts: list[tuple[str, str, str]] = []
    for offset in range(0, len(ids), batch):
        chunk = ids[offset : offset + batch]
        records = repo.records_by_id(db, chunk)
        assets = repo.assets_by_record(db, chunk)
        asset_ids = [str(a["asset_id"]) for rows in assets.values() for a in rows]
        policies = repo.policies_by_id(db, chunk + asset_ids)
        olds = repo.manifests_by_id(db, chunk)
        changed: list[domain.Built] = []
        events = []
        for record_id in chunk:
            built = build_from(
                base,
                records.get(record_id),
                policies.get(record_id),
                assets.get(record_id, []),
                labels,
                _annotation_pages(db, base, record_id),
                policies,
            )
            old = olds.get(record_id)
            if built is None:
                if old is not None:  # e.g. its last canvas went: removed like any refresh
                    outcome, removed = _refresh(db, base, record_id, correlation_id)
                    acts += removed
                    counts[outcome] = counts.get(outcome, 0) + 1
                continue
            if _same(old, built):
                counts["unchanged"] = counts.get("unchanged", 0) + 1
                continue
            changed.append(built)
            if old is not None and old["etag"] == built.etag:
                counts["unchanged"] = counts.get("unchanged", 0) + 1
                continue
            acts += domain.activities_for_change(base, old, built)
            events.append(_published_event(base, built, old is None, correlation_id))
            outcome = "created" if old is None else "updated"
            counts[outcome] = counts.get(outcome, 0) + 1
        repo.store_manifests(db, [b.stored() for b in changed])
        repo.replace_canvases_many(db, {b.record_id: b.canvases for b in changed})
        repo.queue_mirror(db, [b.record_id for b in changed])
        db.publish(*events)
    append_activities(db, base, _collapse(acts))
    return {"outcomes": counts, "seconds": round(time.monotonic() - started, 3)}


def _collapse(acts: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One Update per collection (manifests keep every activity, in order)."""
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for act in acts:
        if act[2] == "Collection":
            if act[1] in seen:
                continue
            seen.add(act[1])
        out.append(act)
    return out


# serving -------------------------------------------------------------------------------------


def _record_id(value: Any) -> str:
    if not isinstance(value, str) or not domain.is_uuid(value):
        raise NotFound(f"no manifest for {str(value)[:64]!r}")
    return value.lower()


def served_manifest(
    db: DbSession, base: str, record_id: Any, correlation_id: str | None
) -> dict[str, Any]:
    rid = _record_id(record_id)
    row = repo.get_manifest(db, rid)
    if row is not None and row["stale"]:
        refresh(db, base, rid, correlation_id)
        row = repo.get_manifest(db, rid)
    if row is None:
        raise _no_manifest(db, rid)
    return {"body": row["body"], "etag": row["etag"], "public": row["public"]}


def has_manifest(db: DbSession, record_id: Any) -> bool:
    """Whether the record has a manifest (published, with a canvas): the linked data names the
    manifest and the collections only then (ADR 0067)."""
    if not isinstance(record_id, str) or not domain.is_uuid(record_id):
        return False
    return repo.get_manifest(db, record_id.lower()) is not None


def with_manifests(db: DbSession, record_ids: Any) -> list[str]:
    """Which of ``record_ids`` have a manifest, as lower-case UUID strings (what is not a UUID
    has none): the LGSP feed names a manifest only then (ADR 0067). At most 1,000 ids."""
    if not isinstance(record_ids, list):
        return []
    ids = sorted({i.lower() for i in record_ids if isinstance(i, str) and domain.is_uuid(i)})
    return repo.with_manifest(db, ids[:1000])


NO_CONTENT_TEXT = {
    "vi": "Hồ sơ đã công bố nhưng chưa có ảnh hay tệp nào sẵn sàng: chưa có manifest IIIF.",
    "en": "The record is published but has no ready image or file yet: it has no IIIF manifest.",
}
NOT_PUBLISHED_TEXT = {
    "vi": "Không có hồ sơ đã công bố với mã này.",
    "en": "There is no published record with this id.",
}


def _no_manifest(db: DbSession, record_id: str) -> NotFound:
    """The 404 of a record without a manifest, saying why: not published, or nothing to show
    (a published record without media has no manifest, ADR 0067)."""
    record = repo.get_record(db, record_id)
    if record is not None and removal_reason(record) == "no_content":
        return NotFound(
            f"record {record_id} is published but has no media yet; a manifest needs a canvas",
            {"reason": "no_content", "text": NO_CONTENT_TEXT},
        )
    return NotFound(
        f"no published record {record_id}", {"reason": "not_published", "text": NOT_PUBLISHED_TEXT}
    )


def _page(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("page is a positive integer")
    return value


def served_collection(db: DbSession, base: str, name: Any, page: Any) -> dict[str, Any]:
    """A collection of the tree (ADR 0067): the collections under it, then its manifests (a
    group such as ``ranks`` lists collections only); paged above ``COLLECTION_PAGE`` manifests."""
    if not isinstance(name, str) or not domain.valid_collection_name(name):
        raise NotFound(f"no collection {str(name)[:64]!r}")
    number = _page(page)
    total = repo.collection_size(db, name)
    if total == 0 and name != "all":
        raise NotFound(f"no collection {name!r}")
    labels = repo.labels(db)
    listed = name not in domain.GROUP_LABELS  # a group lists no manifest of its own
    size = domain.COLLECTION_PAGE
    pages = max(1, -(-total // size)) if listed else 1
    if number is not None and number > pages:
        raise NotFound(f"collection {name!r} has {pages} page(s)")
    children = domain.children_of(name, repo.listed_collection_names(db)) if number is None else []
    if number is None and listed and total > size:
        spec = domain.paged_collection_spec(base, name, labels, total, pages, children)
    else:
        offset = ((number or 1) - 1) * size
        members = repo.collection_members(db, name, size, offset) if listed else []
        spec = domain.collection_spec(base, name, labels, members, number, pages, children)
    body = dumps(build_collection(spec))
    return {"body": body, "etag": etag_of(body)}


def served_changes(db: DbSession, base: str, page: Any) -> dict[str, Any]:
    size = discovery.PAGE_SIZE
    total = repo.activity_count(db)
    last = max(0, -(-total // size) - 1)
    if page is None:
        doc = discovery.ordered_collection(domain.changes_url(base), total, last)
    else:
        if not (isinstance(page, str) and page.isdigit() and len(page) <= 9) and not (
            isinstance(page, int) and not isinstance(page, bool)
        ):
            raise BadRequest("page is a number from 0")
        number = int(page)
        if number < 0 or number > last:
            raise NotFound(f"the activity stream has pages 0 to {last}")
        rows = repo.activities_page(db, size, number * size)
        stream = domain.changes_url(base)
        items = [
            discovery.activity(
                r["type"],
                r["object_id"],
                r["object_type"],
                r["end_time"],
                discovery.activity_url(stream, int(r["seq"])),
            )
            for r in rows
        ]
        doc = discovery.ordered_page(domain.changes_url(base), number, last, items, number * size)
    body = dumps(doc)
    return {"body": body, "etag": etag_of(body)}
