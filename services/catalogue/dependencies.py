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
    """Insert the seed terms that are missing (terms admins added or edited stay as they are)."""
    seed = json.loads(path.read_text(encoding="utf-8"))
    with unit_of_work(engine) as db:
        return seed_into(db, seed)


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
