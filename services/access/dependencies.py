"""Resources of the access service, built in ``setup()``: password hashing, the first admin."""

from __future__ import annotations

import logging
from typing import Any

from eventlet import tpool
from nameko.extensions import DependencyProvider

from services.access import accounts
from services.access import repository as repo
from shared.db import Database, unit_of_work
from shared.errors import DisanError

log = logging.getLogger(__name__)


class PasswordHashing(DependencyProvider):  # type: ignore[misc]
    """argon2id in a real OS thread, so a login does not stall every other green thread."""

    def setup(self) -> None:
        self.passwords = accounts.Passwords(run=tpool.execute)

    def get_dependency(self, worker_ctx: Any) -> accounts.Passwords:
        return self.passwords


class FirstAdmin(DependencyProvider):  # type: ignore[misc]
    """At start, create the first administrator from DISAN_ADMIN_USER/PASSWORD if none exists.

    There is no built-in password: without those variables no admin is created and the
    service says so in its log.
    """

    def start(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"].access
        database = next((d for d in self.container.dependencies if isinstance(d, Database)), None)
        if database is None or database.engine is None:
            return
        passwords = accounts.Passwords(run=tpool.execute)
        with unit_of_work(database.engine) as session:
            session.execute("SELECT pg_advisory_xact_lock(hashtext('access:first-admin'))")
            if repo.any_admin(session):
                return
            if not settings.admin_user or not settings.admin_password:
                log.warning(
                    "no administrator exists: set DISAN_ADMIN_USER and DISAN_ADMIN_PASSWORD "
                    "to create one at start, or run `disan user add NAME --role admin`"
                )
                return
            try:
                user = accounts.create_user(
                    session,
                    passwords,
                    username=settings.admin_user,
                    password=settings.admin_password,
                    roles=["admin"],
                    display_name="Administrator",
                )
            except DisanError as exc:
                log.error("could not create the first administrator: %s", exc.message)
                return
            log.info("created the first administrator %r", user["username"])

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
