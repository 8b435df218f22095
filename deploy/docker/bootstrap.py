"""``bootstrap``: everything an installation needs before its services start, idempotent.

1. the PostgreSQL extensions the catalogue's search uses (``unaccent``, ``pg_trgm``; both are
   trusted extensions, so the database's owner may create them: no superuser needed);
2. ``disan migrate``: every service's schema and migrations, every reliable handler's queue;
3. the buckets ``masters`` and ``derivatives``.

Run by the image's entrypoint (compose one-shot ``bootstrap``, the Helm hook Job).
"""

from __future__ import annotations

import logging
import sys

import psycopg

from disan.cli.provision import BUCKETS, ensure_buckets, migrate_all
from shared.config import ConfigError, Settings, load_settings

log = logging.getLogger("disan.bootstrap")

# the same as `disan up` creates (disan/cli/infra.py ensure_database)
EXTENSIONS = ("unaccent", "pg_trgm")


def ensure_extensions(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10) as conn:
        for name in EXTENSIONS:
            try:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")
            except psycopg.Error as exc:
                raise SystemExit(
                    f"cannot create the PostgreSQL extension {name!r} ({exc}); ask the database "
                    f"administrator to run: CREATE EXTENSION IF NOT EXISTS {name};"
                ) from exc


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    ensure_extensions(settings)
    log.info("extensions ready: %s", ", ".join(EXTENSIONS))
    migrate_all(settings)
    log.info("schemas, migrations and queues ready")
    ensure_buckets(settings)
    log.info("buckets ready: %s", ", ".join(BUCKETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
