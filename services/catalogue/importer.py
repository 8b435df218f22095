"""Bulk import and export: CSV (dotted column names) and JSON Lines (one record per line).

Every row is validated first and reported as ``{row, field, reason}``; a dry run stops there.
A real run writes nothing unless every row is valid: the batch is one transaction. New records
start as drafts, each with its first version and its ``record_created`` event.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from marshmallow import ValidationError

from services.catalogue import domain, records
from services.catalogue import repository as repo
from shared import record_schemas as schemas
from shared.db import DbSession
from shared.errors import BadRequest, ValidationFailed
from shared.events import new_id  # OS randomness taken 4 KiB at a time, not a call per row
from shared.languages import vi_first_deep
from shared.principals import Principal
from shared.record_files import FORMATS as FORMATS
from shared.record_files import decode as decode

MAX_ROWS = 200_000
MAX_REPORTED = 1000
CHUNK = 1000


def parse(text: str, fmt: str) -> Iterator[tuple[int, Any]]:
    """``(row number, raw row)``: for CSV the header is row 1, for JSON Lines line numbers."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        if not header:
            raise BadRequest("the CSV file has no header row")
        unknown = sorted(set(header) - set(domain.CSV_COLUMNS) - {"id"})
        if unknown:
            raise BadRequest(
                f"unknown CSV column(s): {', '.join(c[:40] for c in unknown[:10])}",
                {"known_columns": list(domain.CSV_COLUMNS)},
            )
        try:
            for row in reader:
                if None in row:
                    yield reader.line_num, {"__error__": "more cells than header columns"}
                else:
                    yield reader.line_num, row
        except csv.Error as exc:
            raise BadRequest(
                f"the CSV file is malformed near line {reader.line_num}: {exc}"
            ) from exc
    elif fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"not valid JSON: {exc.msg}"}
                except (ValueError, RecursionError):  # a huge integer; nesting past the stack
                    yield number, {"__error__": "not valid JSON: too long a number or too deep"}
    else:
        raise BadRequest(f"format is one of {', '.join(FORMATS)}")


def _flatten_messages(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten_messages(value, name)
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten_messages(item, prefix)
    else:
        yield prefix or "_row", str(messages)


Loaded = tuple[list[tuple[int, str, dict[str, Any]]], list[dict[str, Any]], int]


def load_rows(
    rows: Iterable[tuple[int, Any]], fmt: str, schema: schemas.RecordSchema | None = None
) -> Loaded:
    """Each row on its own, without the database: ``(row, id, document)``, errors, count.

    One schema serves a whole import (``BulkRecordSchema``: repeated blocks checked once).
    """
    good: list[tuple[int, str, dict[str, Any]]] = []
    report: list[dict[str, Any]] = []
    count = 0

    def bad(row: int, field: str, reason: str) -> None:
        report.append({"row": row, "field": field, "reason": reason})

    schema = schema or schemas.BulkRecordSchema()
    for number, raw in rows:
        count += 1
        if not isinstance(raw, dict):
            bad(number, "_row", "a row is a JSON object")
            continue
        if "__error__" in raw:
            bad(number, "_row", raw["__error__"])
            continue
        raw = dict(raw)
        given_id = raw.pop("id", None) or None
        if fmt == "csv":
            raw, cell_errors = domain.unflatten(raw)
            for field, reasons in cell_errors.items():
                for reason in reasons:
                    bad(number, field, reason)
            if cell_errors:
                continue
        if given_id is not None and not (isinstance(given_id, str) and repo.is_uuid(given_id)):
            bad(number, "id", "not a UUID")
            continue
        try:
            doc = schema.load(raw)
        except ValidationError as exc:
            for field, reason in _flatten_messages(exc.messages):
                bad(number, field, reason)
            continue
        good.append((number, str(uuid.UUID(given_id)) if given_id else new_id(), doc))
    return good, report, count


def _chunks(rows: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Writer:
    """Writes checked batches in a second thread while the next batch is being checked.

    The database connection is used by one thread at a time (``lock``); everything happens in
    the caller's transaction, so an error found later still leaves nothing written.
    """

    def __init__(
        self, db: DbSession, principal: Principal, correlation_id: str | None, active: bool
    ) -> None:
        self.db, self.principal, self.correlation_id = db, principal, correlation_id
        self.active = active
        self.lock = threading.Lock()
        self.queue: queue.Queue[list[tuple[str, dict[str, Any]]] | None] = queue.Queue(2)
        self.error: BaseException | None = None
        self.created = 0
        self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
        if active:
            self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is not None or not self.active:
                continue
            try:
                events = records.events(
                    "catalogue.record_created",
                    [
                        records.event_data({"id": rid, "version": 1, "state": "draft"}, doc)
                        for rid, doc in chunk
                    ],
                    self.principal,
                    self.correlation_id,
                )
                with self.lock:
                    repo.insert_records(
                        self.db,
                        chunk,
                        "draft",
                        self.principal.subject,
                        self.principal.name or self.principal.subject,
                    )
                    self.db.publish(*events)
                self.created += len(chunk)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self.error = exc

    def submit(self, chunk: list[tuple[str, dict[str, Any]]]) -> None:
        if self.active and chunk:
            self.queue.put(chunk)

    def stop(self) -> None:
        """Stop writing (an invalid row was found: the transaction will be rolled back)."""
        self.active = False

    def finish(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


def run_import(
    db: DbSession,
    principal: Principal,
    content: bytes | str,
    fmt: str,
    dry_run: bool,
    correlation_id: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Check every row; unless it is a dry run and if every row is valid, create them all.

    Batches of valid rows are written while later ones are checked (one transaction): the first
    invalid row stops the writing, and the caller's rollback leaves nothing written.
    """
    domain.require_editor(principal.roles)
    text = decode(content)
    lines = max(text.count("\n"), 1)
    known = repo.vocabulary_codes(db, set(domain.SCHEMES))
    places = repo.vocabulary_labels(db, set(domain.PLACE_FIELDS))
    parents = repo.vocabulary_broader(db, set(domain.PLACE_FIELDS))
    successors = repo.vocabulary_successors(db)
    report: list[dict[str, Any]] = []
    count = 0
    seen: dict[str, int] = {}
    ids_in_file: set[str] = set()
    pending: list[tuple[int, str]] = []  # relation targets outside the batches seen so far

    def bad(row: int, field: str, reason: str) -> None:
        report.append({"row": row, "field": field, "reason": reason})

    # one correlation id for the whole import: its events belong together
    writer = _Writer(db, principal, correlation_id or str(uuid.uuid4()), active=not dry_run)
    # While batches are written, the checks of the next batch read committed rows through a
    # second connection instead of waiting for the writer's statements on the first (rows of
    # earlier batches of this import are in ``seen`` and ``ids_in_file``).
    checker = DbSession(db.engine) if writer.active else None
    schema = schemas.BulkRecordSchema()
    try:
        for chunk in _chunks(parse(text, fmt), CHUNK):
            good, chunk_report, chunk_count = load_rows(chunk, fmt, schema)
            count += chunk_count
            if count > MAX_ROWS:
                raise BadRequest(f"at most {MAX_ROWS} rows per import")
            report += chunk_report
            with contextlib.nullcontext() if checker is not None else writer.lock:
                taken = repo.existing_inventory_numbers(
                    checker or db, [d["inventory_number"] for _, _, d in good]
                )
                taken_ids = repo.existing_ids(checker or db, [rid for _, rid, _ in good])
            ready: list[tuple[str, dict[str, Any]]] = []
            for number, rid, doc in good:
                errors = len(report)
                doc, place_errors = domain.resolve_places(doc, places, parents, successors)
                for field, reasons in place_errors.items():
                    bad(number, field, reasons[0])
                for field, scheme, code in domain.vocabulary_refs(doc):
                    if code not in known.get(scheme, ()):
                        bad(number, field, f"unknown {scheme} term {code!r}")
                inventory = doc["inventory_number"].lower()
                if inventory in taken:
                    bad(number, "inventory_number", f"already used by record {taken[inventory]}")
                elif inventory in seen:
                    bad(number, "inventory_number", f"duplicate of row {seen[inventory]}")
                seen.setdefault(inventory, number)
                if rid in taken_ids or rid in ids_in_file:
                    bad(number, "id", "a record with this id exists")
                ids_in_file.add(rid)
                for relation in doc["relations"]:
                    if relation["target"] not in ids_in_file:
                        pending.append((number, relation["target"]))
                if len(report) == errors:
                    ready.append((rid, doc))
            if report:
                writer.stop()
            writer.submit(ready)
            if progress is not None:
                progress("importing" if writer.active else "checking", chunk[-1][0], lines)
        outside = sorted({t for _, t in pending} - ids_in_file)
        with writer.lock:
            existing = repo.existing_ids(db, outside)
        for number, target in pending:
            if target not in ids_in_file and target not in existing:
                bad(number, "relations.target", f"no record {target}")
    finally:
        try:
            if report:
                writer.stop()
            writer.finish()
        finally:
            if checker is not None:
                checker.close()  # back to the pool, rolled back (it only read)
    report.sort(key=lambda e: e["row"])
    invalid = len({e["row"] for e in report})
    result: dict[str, Any] = {
        "format": fmt,
        "dry_run": dry_run,
        "rows": count,
        "valid": count - invalid,
        "invalid_rows": invalid,
        "errors": report[:MAX_REPORTED],
        "errors_truncated": len(report) > MAX_REPORTED,
        "created": 0,
    }
    if count == 0:
        raise ValidationFailed("the file holds no records", result)
    if dry_run:
        return result
    if report:
        raise ValidationFailed(
            f"{invalid} of {count} rows are not valid; nothing was imported", result
        )
    result["created"] = writer.created
    if progress is not None:
        progress("importing", lines, lines)
    return result


def export(db: DbSession, fmt: str, state: str | None = None) -> Iterator[str]:
    """Every record (or those in ``state``) as CSV or JSON Lines text, in inventory order."""
    if fmt not in FORMATS:
        raise BadRequest(f"format is one of {', '.join(FORMATS)}")
    sql = "SELECT id::text AS id, data FROM records"
    params: dict[str, Any] = {}
    if state:
        sql += " WHERE state = :state"
        params["state"] = state
    rows = db.execute(sql + " ORDER BY inventory_number", params).mappings()
    if fmt == "jsonl":
        for row in rows:
            line = vi_first_deep({"id": row["id"]} | row["data"])
            yield json.dumps(line, ensure_ascii=False) + "\n"
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", *domain.CSV_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({"id": row["id"]} | domain.flatten(row["data"]))
        if out.tell() > 65536:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
