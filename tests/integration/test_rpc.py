"""RPC answers only after the worker's writes are committed (read-your-writes for callers)."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from shared.db import Database
from shared.rpc import rpc
from shared.runner import nameko_config
from shared.service import DisanService

pytestmark = pytest.mark.integration

SQL = """
CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL);
CREATE TABLE pages (note_id integer NOT NULL
    REFERENCES notes (id) DEFERRABLE INITIALLY DEFERRED);
"""


def make_service(name: str) -> type:
    class Notes(DisanService):
        db = Database(name)

        @rpc
        def add(self, note_id: int, body: str) -> int:
            self.db.execute("INSERT INTO notes VALUES (:i, :b)", {"i": note_id, "b": body})
            return note_id

        @rpc
        def add_orphan_page(self) -> str:
            # violates a deferred foreign key: only the commit can notice
            self.db.execute("INSERT INTO pages VALUES (424242)")
            return "written"

    Notes.name = name
    return Notes


def test_a_caller_reads_what_the_rpc_just_wrote(
    unique, settings, schema_factory, container_factory
):
    engine = schema_factory(unique, SQL)
    container_factory(make_service(unique))
    with ClusterRpcProxy(nameko_config(settings, "caller")) as cluster:
        service = getattr(cluster, unique)
        for i in range(20):
            assert service.add(i, "Hương ước làng Cổ Trai") == i
            with engine.connect() as conn:  # right after the answer, from another connection
                assert (
                    conn.execute(
                        text("SELECT count(*) FROM notes WHERE id = :i"), {"i": i}
                    ).scalar()
                    == 1
                )


def test_a_failed_commit_is_the_callers_error_not_a_success(
    unique, settings, schema_factory, container_factory
):
    engine = schema_factory(unique, SQL)
    container_factory(make_service(unique))
    with ClusterRpcProxy(nameko_config(settings, "caller")) as cluster:
        with pytest.raises(RemoteError, match="ForeignKeyViolation|IntegrityError"):
            getattr(cluster, unique).add_orphan_page()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pages")).scalar() == 0
