"""Resources of the catalogue built at start: the controlled vocabularies seeded from a file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import Engine

from shared.db import Database, DbSession, unit_of_work

log = logging.getLogger(__name__)

VOCABULARIES = Path(__file__).resolve().parent / "data" / "vocabularies.json"


def seed_vocabularies(engine: Engine, path: Path = VOCABULARIES) -> int:
    """Insert the seed terms that are missing (terms admins added or edited stay as they are),
    then Hải Phòng's administrative units from the installed packages (ADR 0046)."""
    seed = json.loads(path.read_text(encoding="utf-8"))
    with unit_of_work(engine) as db:
        return seed_into(db, seed) + seed_admin_units(db, seed["schemes"])


def seed_admin_units(db: DbSession, seed: dict[str, list[dict[str, Any]]]) -> int:
    """The provinces and communes built from ``vietnam-provinces`` and ``vietnamadminunits``
    (read from the installed packages, never downloaded); ``added_by`` names them."""
    from services.catalogue import admin_units
    from services.catalogue import repository as repo

    source = admin_units.source()
    return sum(
        repo.insert_terms(db, scheme, terms, source)
        for scheme, terms in admin_units.build(seed).items()
    )


def seed_into(db: DbSession, seed: dict[str, Any]) -> int:
    from services.catalogue import repository as repo

    added = 0
    for scheme, terms in seed["schemes"].items():
        for term in terms:
            added += repo.insert_term(
                db,
                scheme,
                term["code"],
                term["labels"],
                term.get("broader"),
                term.get("note"),
                "seed",
            )
    return added


class VocabularySeed(DependencyProvider):  # type: ignore[misc]
    """At start, make sure the seed vocabularies are in the catalogue's schema."""

    def start(self) -> None:
        database = next((d for d in self.container.dependencies if isinstance(d, Database)), None)
        if database is None or database.engine is None:
            return
        added = seed_vocabularies(database.engine)
        if added:
            log.info("seeded %d vocabulary terms", added)

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
