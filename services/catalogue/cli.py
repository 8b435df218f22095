"""``disan import FILE`` and ``disan export``: bulk records from a shell.

Like ``disan user``, these work on the catalogue's own schema directly (migrating it and seeding
the vocabularies first), so they also work before the platform runs; every created record is
announced through the outbox like any RPC. A dry run prints the per-row report and writes
nothing; a real run writes every row or none.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.db import make_engine, migrate, unit_of_work
from shared.errors import DisanError
from shared.principals import Principal


def add_parsers(sub: Any) -> None:
    imp = sub.add_parser("import", help="import records from CSV or JSON Lines (all or nothing)")
    imp.add_argument("file", help="a .csv or .jsonl file (UTF-8)")
    imp.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    exp = sub.add_parser("export", help="export records as CSV or JSON Lines")
    exp.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    exp.add_argument("--state", choices=["draft", "in_review", "published", "withdrawn"])
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")


def engine(settings: Settings) -> Any:
    """The catalogue's engine, its schema migrated and its vocabularies seeded."""
    from disan.registry import SERVICES
    from services.catalogue.dependencies import seed_vocabularies

    spec = SERVICES["catalogue"]
    assert spec.schema is not None
    migrate(settings.database_url, spec.schema, spec.migrations)
    eng = make_engine(settings.database_url, spec.schema, pool_size=1)
    seed_vocabularies(eng)
    return eng


def operator() -> Principal:
    return Principal(
        kind="user", id=f"cli:{os.environ.get('USER', 'unknown')}"[:64], roles=frozenset({"admin"})
    )


class Progress:
    """A one-line progress bar on standard error (only on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.tty or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "█" * filled + "·" * (width - filled)
        sys.stderr.write(f"\r{phase:<9} [{bar}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(args: Any, settings: Settings) -> int:
    from services.catalogue import importer

    if args.command == "export":
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            eng = engine(settings)
            with unit_of_work(eng) as db:
                for chunk in importer.export(db, args.format, args.state):
                    out.write(chunk)
            eng.dispose()
        finally:
            if args.output:
                out.close()
        return 0
    path = Path(args.file)
    fmt = args.format or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(
        path.suffix.lower()
    )
    if fmt is None:
        print("say --format csv or jsonl (the extension does not tell)", file=sys.stderr)
        return 2
    try:
        content = path.read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    eng = engine(settings)
    started = time.monotonic()
    try:
        with unit_of_work(eng) as db:
            report = importer.run_import(
                db, operator(), content, fmt, args.dry_run, progress=Progress()
            )
    except DisanError as exc:
        report = exc.details if isinstance(exc.details, dict) else {"error": exc.message}
        report["message"] = exc.message
        _print_report(report, args.json, time.monotonic() - started)
        return 1
    finally:
        eng.dispose()
    _print_report(report, args.json, time.monotonic() - started)
    return 0


def _print_report(report: dict[str, Any], as_json: bool, seconds: float) -> None:
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if "message" in report:
        print(report["message"])
    if "rows" in report:
        mode = "dry run: " if report.get("dry_run") else ""
        print(
            f"{mode}{report['rows']} row(s) read, {report['valid']} valid, "
            f"{report['invalid_rows']} invalid, {report['created']} created in {seconds:.1f} s"
        )
    for error in report.get("errors", []):
        print(f"  row {error['row']:>6}  {error['field']:<32} {error['reason']}")
    if report.get("errors_truncated"):
        print("  … (more errors; fix these first)")
