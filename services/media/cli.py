"""``disan fixity run``, ``disan media purge|sweep|bag``: preservation from a shell.

They work on the media schema and the S3 store directly (no running service needed), writing
the same preservation events and outbox events as the service: the relay of a running media
service publishes them.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from disan.registry import SERVICES
from services.media import preservation, sweep
from services.media.domain import MediaLimits
from shared.config import Settings
from shared.db import DbSession, make_engine, migrate
from shared.storage import ObjectStore


def add_parsers(sub: Any) -> None:
    fix = sub.add_parser("fixity", help="re-read masters and compare their SHA-256")
    fix.add_argument("action", choices=["run"])
    fix.add_argument("--limit", type=int, default=100_000, help="master versions to check")
    fix.add_argument("--json", action="store_true")
    fix.add_argument("--schema", default="media", help=argparse_hidden())
    med = sub.add_parser("media", help="media administration: purge deleted assets, BagIt export")
    med.add_argument("action", choices=["purge", "bag", "sweep"])
    med.add_argument("asset_id", nargs="?", help="bag: the asset to export")
    med.add_argument("-o", "--output", default=".", help="bag: folder to write the bag in")
    med.add_argument(
        "--grace-hours",
        type=float,
        default=None,
        help="sweep: leave unregistered masters younger than this (default: extra.media)",
    )
    med.add_argument("--dry-run", action="store_true", help="sweep: list, do not delete")
    med.add_argument("--json", action="store_true")
    med.add_argument("--schema", default="media", help=argparse_hidden())


def _sweep(args: Any, settings: Settings, db: DbSession, store: ObjectStore) -> int:
    limits = MediaLimits.from_config(settings.extra.get("media"))
    hours = limits.orphan_grace_hours if args.grace_hours is None else args.grace_hours
    if hours < 0:
        print("--grace-hours is 0 or more", file=sys.stderr)
        return 2
    found = sweep.sweep_orphans(db, store, timedelta(hours=hours), "cli:sweep", args.dry_run)
    if args.json:
        print(json.dumps([o.to_dict() for o in found], indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(found)} orphan master(s) and unfinished upload(s) older than {hours:g} h")
    for o in found:
        owner = f", asset {o.asset_id}" if o.asset_id else ""
        if o.kind == "multipart":
            print(f"  {o.key} (unfinished multipart upload begun {o.last_modified})")
        else:
            print(f"  {o.key} ({o.size} bytes, {o.last_modified}{owner})")
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def run(args: Any, settings: Settings) -> int:
    migrate(settings.database_url, args.schema, SERVICES["media"].migrations)
    engine = make_engine(settings.database_url, args.schema, pool_size=1)
    db = DbSession(engine)
    store = ObjectStore(settings.s3, timeout=300)
    try:
        if args.command == "fixity":
            results = preservation.run_fixity(db, store, args.limit, agent="cli:fixity")
            failed = [r for r in results if not r.ok]
            if args.json:
                print(json.dumps([r.__dict__ for r in results], indent=2))
            else:
                print(f"checked {len(results)} master(s): {len(failed)} failed")
                for r in failed:
                    print(
                        f"  FAILED {r.asset_id} v{r.version}: expected {r.expected}, "
                        f"got {r.actual or 'missing'}"
                    )
            return 1 if failed else 0
        if args.action == "purge":
            gone = preservation.purge(db, store)
            print(f"purged {len(gone)} asset(s)")
            for asset_id in gone:
                print(f"  {asset_id}")
            return 0
        if args.action == "sweep":
            return _sweep(args, settings, db, store)
        if not args.asset_id:
            print("say which asset: disan media bag ASSET_ID [-o FOLDER]", file=sys.stderr)
            return 2
        try:
            bag = preservation.export_bag(db, store, args.asset_id, Path(args.output))
        except preservation.BagRefused as exc:
            print(f"no bag: {exc}", file=sys.stderr)
            return 1
        print(str(bag))
        return 0
    finally:
        db.commit()
        db.close()
        engine.dispose()
