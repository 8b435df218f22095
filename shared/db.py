"""PostgreSQL access: one engine per service schema, a transaction per worker, migrations.

Each service owns one schema; its connections set ``search_path`` to it, so a service's SQL never
names another service's tables. Events are written to the outbox in the same transaction as the
state change they announce (``DbSession.publish``), and a handler claims an event id in the same
transaction as its work (``DbSession.claim``), so redelivery changes nothing twice.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventlet import patcher
from eventlet.green import select as green_select
from eventlet.hubs import trampoline
from nameko.extensions import DependencyProvider
from psycopg import waiting as pg_waiting
from sqlalchemy import Connection, Engine, TextClause, create_engine, event, exc, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.url import make_url

from shared.events import Event

log = logging.getLogger(__name__)

KERNEL_SQL = Path(__file__).resolve().parent / "sql"
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class DatabaseError(Exception):
    """The database could not be reached or refused an operation."""


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise DatabaseError(f"invalid schema name {schema!r}")
    return schema


# a pooled connection unused for longer than this is checked (one round trip) before use
IDLE_PING_SECONDS = 5.0


def make_engine(database_url: str, schema: str, pool_size: int = 10) -> Engine:
    """An engine whose connections work inside ``schema`` (then ``public`` for extensions).

    A connection taken from the pool is pinged only if it sat unused for ``IDLE_PING_SECONDS``
    (a dead one is replaced transparently), not on every checkout: a busy worker pool — an
    event handler taking one connection per message — saves a round trip per unit of work.
    """
    use_green_wait()
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    check_schema_name(schema)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_timeout=10,
        connect_args={"options": f"-csearch_path={schema},public", "connect_timeout": 5},
    )
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine))
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info["disan_idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_connection: Any, record: Any, proxy: Any) -> None:
    since = record.info.get("disan_idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)
    except Exception as error:  # noqa: BLE001 - the pool reconnects on DisconnectionError
        raise exc.DisconnectionError(f"pooled connection is dead: {error}") from error


_WAIT_R, _WAIT_W = 1, 2  # psycopg.waiting.Wait.R, .W
_READY_NONE, _READY_R, _READY_W = 0, 1, 2  # psycopg.waiting.Ready.NONE, .R, .W


class _Idle(Exception):
    """psycopg's wait interval passed with the socket not ready (checked, then waited again)."""


def _wait_green(
    gen: Generator[Any, Any, Any], fileno: int, interval: float = 0.0, timeout: float | None = None
) -> Any:
    """psycopg's wait function for eventlet: the green thread waits on the hub for the socket.

    Same contract as ``psycopg.waiting.wait_selector`` (the generator gets the readiness it
    waited for, ``READY_NONE`` after each ``interval`` without it, a closed socket raises, a
    ``timeout`` raises ``_WaitTimeout``), without building a selector and a green ``select``
    per wait: one ``trampoline`` on the hub, which never blocks it. Waits for both directions
    (rare: a flush that would block) go through the green ``select``.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        state = next(gen)
        while True:
            wait_for = interval
            if deadline is not None:
                wait_for = max(0.0, min(interval, deadline - time.monotonic()))
            if state == _WAIT_R or state == _WAIT_W:
                try:
                    trampoline(
                        fileno,
                        read=state == _WAIT_R,
                        write=state == _WAIT_W,
                        timeout=wait_for,
                        timeout_exc=_Idle,
                    )
                    ready = _READY_R if state == _WAIT_R else _READY_W
                except _Idle:
                    ready = _READY_NONE
            else:
                rl, wl, _ = green_select.select(
                    (fileno,) if state & _WAIT_R else (),
                    (fileno,) if state & _WAIT_W else (),
                    (),
                    wait_for,
                )
                ready = (_READY_R if rl else _READY_NONE) | (_READY_W if wl else _READY_NONE)
            if not ready:
                try:
                    os.fstat(fileno)
                except OSError as error:
                    raise psycopg.OperationalError("connection socket closed") from error
            state = gen.send(ready)
            if deadline is not None and time.monotonic() >= deadline:
                raise psycopg.errors._WaitTimeout("wait timeout expired")
    except StopIteration as stop:
        return stop.value


def use_green_wait() -> bool:
    """Make psycopg wait with :func:`_wait_green` in a process eventlet has monkey-patched.

    psycopg picks its wait function when first imported (``PSYCOPG_WAIT_FUNC=wait_selector``,
    set by ``shared``, which any process without eventlet keeps); its connections call
    ``psycopg.waiting.wait`` at each wait, so setting it takes effect at once. ``DISAN_PG_WAIT=
    selector`` keeps psycopg's own. Returns whether the green wait is in use.
    """
    if pg_waiting.wait is _wait_green:
        return True
    if os.environ.get("DISAN_PG_WAIT", "green") != "green" or not patcher.is_monkey_patched(
        "select"
    ):
        return False
    pg_waiting.wait = _wait_green
    return True


@functools.lru_cache(maxsize=1024)
def _sql(statement: str) -> TextClause:
    """The parsed form of a SQL string, kept: services run the same statements again and again."""
    return text(statement)


@functools.lru_cache(maxsize=1024)
def _driver_sql(statement: str, dialect: Any) -> str:
    """``statement`` (``:name`` parameters) as the driver's SQL (``%(name)s``, ``%`` doubled),
    exactly as SQLAlchemy compiles it for every execution; compiled once instead."""
    return str(_sql(statement).compile(dialect=dialect))


_INSERT_OUTBOX = text(
    "INSERT INTO outbox (event_id, type, envelope) "
    "SELECT CAST(e->>'event_id' AS uuid), e->>'type', e "
    "FROM jsonb_array_elements(CAST(:envs AS jsonb)) WITH ORDINALITY AS t(e, i) ORDER BY i "
    "ON CONFLICT (event_id) DO NOTHING"
)


def insert_outbox(conn: Connection, events: list[Event]) -> None:
    """Write events to the outbox in one statement (one JSON array), in their order."""
    if events:
        envs = json.dumps([e.to_dict() for e in events], ensure_ascii=False)
        conn.execute(_INSERT_OUTBOX, {"envs": envs})


_CLAIM = text(
    "INSERT INTO processed_events (event_id, handler) VALUES (:id, :handler) "
    "ON CONFLICT DO NOTHING RETURNING 1"
)
_CLAIM_MANY = text(
    "INSERT INTO processed_events (event_id, handler) "
    "SELECT DISTINCT unnest(CAST(:ids AS uuid[])), :handler "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


def claim_event(conn: Connection, event_id: str, handler: str) -> bool:
    """Record that ``handler`` handles ``event_id``; False if it already did (a redelivery).

    A concurrent duplicate blocks on the primary key until the first transaction ends, then
    finds the row, so only one of them does the work.
    """
    row = conn.execute(_CLAIM, {"id": event_id, "handler": handler}).first()
    return row is not None


def claim_events(conn: Connection, event_ids: list[str], handler: str) -> set[str]:
    """Claim many events at once; returns the ids not handled before."""
    if not event_ids:
        return set()
    rows = conn.execute(_CLAIM_MANY, {"ids": event_ids, "handler": handler})
    return {str(r[0]) for r in rows}


class DbSession:
    """One unit of work: a connection with an open transaction, opened on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
            self._conn.begin()
        return self._conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        if not params:
            return self.connection.execute(_sql(sql))
        conn = self.connection
        # same SQL, same parameters, same result object as ``execute(text(sql), params)``,
        # without compiling the statement again on every call (a third of a handler's CPU)
        return conn.exec_driver_sql(_driver_sql(sql, conn.dialect), dict(params))

    def publish(self, *events: Event) -> None:
        """Put events in the outbox; they are sent only if this transaction commits."""
        insert_outbox(self.connection, list(events))

    def claim(self, event_id: str, handler: str) -> bool:
        return claim_event(self.connection, event_id, handler)

    def claim_many(self, event_ids: list[str], handler: str) -> set[str]:
        return claim_events(self.connection, event_ids, handler)

    def commit(self) -> None:
        if self._conn is not None:
            self._conn.commit()

    def rollback(self) -> None:
        if self._conn is not None:
            self._conn.rollback()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def invalidate(self) -> None:
        """Drop the connection without a rollback, as a dying process does: the server ends
        its transaction and frees its locks."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception as error:  # noqa: BLE001 - it is being thrown away anyway
                log.debug("invalidating a killed worker's connection: %s", error)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[DbSession]:
    """A DbSession committed on success and rolled back on error (outside nameko workers)."""
    session = DbSession(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database(DependencyProvider):  # type: ignore[misc]
    """Gives each worker a DbSession in the service's schema; commits when the worker succeeds.

    The engine is built in ``setup()`` from the container's settings, never at import.
    """

    def __init__(self, schema: str, pool_size: int = 10) -> None:
        self.schema = check_schema_name(schema)
        self.pool_size = pool_size
        self.engine: Engine | None = None
        self.sessions: dict[Any, DbSession] = {}

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        self.engine = make_engine(settings.database_url, self.schema, self.pool_size)

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def kill(self) -> None:
        """As if the process died: the connections of killed workers are dropped (nameko
        tears nothing down for them), so no transaction of theirs stays open holding locks
        that a redelivered request would wait behind forever; then the pool."""
        for session in list(self.sessions.values()):
            session.invalidate()
        self.sessions.clear()
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> DbSession:
        assert self.engine is not None
        session = DbSession(self.engine)
        self.sessions[worker_ctx] = session
        return session

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        session = self.sessions.get(worker_ctx)
        if session is None:
            return
        if exc_info is None:
            session.commit()
        else:
            session.rollback()

    def worker_teardown(self, worker_ctx: Any) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


# migrations ----------------------------------------------------------------------------------


def _migration_files(directory: Path | None) -> list[tuple[str, Path]]:
    files = [(f"kernel/{p.name}", p) for p in sorted(KERNEL_SQL.glob("kernel_*.sql"))]
    if directory is not None and directory.is_dir():
        files += [(p.name, p) for p in sorted(directory.glob("*.sql"))]
    return files


def migrate(database_url: str, schema: str, directory: Path | None = None) -> list[str]:
    """Create ``schema`` and apply the kernel and the service's SQL files not yet applied.

    Each file runs in its own transaction under an advisory lock, so concurrent starts are safe.
    Returns the names of the files applied now.
    """
    engine = make_engine(database_url, check_schema_name(schema), pool_size=1)
    applied_now: list[str] = []
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
            try:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                conn.execute(
                    text(
                        "CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                )
                conn.commit()
                done = {r[0] for r in conn.execute(text("SELECT name FROM schema_migrations"))}
                for name, path in _migration_files(directory):
                    if name in done:
                        continue
                    conn.exec_driver_sql(path.read_text(encoding="utf-8"))
                    conn.execute(
                        text("INSERT INTO schema_migrations (name) VALUES (:n)"), {"n": name}
                    )
                    conn.commit()
                    applied_now.append(name)
                    log.info("applied migration %s to schema %s", name, schema)
            finally:
                conn.rollback()
                conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:s))"), {"s": f"migrate:{schema}"}
                )
                conn.commit()
    finally:
        engine.dispose()
    return applied_now
