"""RPC answers only after the worker's writes are committed (read-your-writes for callers)."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from shared.db import Database
from shared.errors import ValidationFailed, http_status
from shared.rpc import call, rpc
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


class OddFieldValue(ValidationFailed):
    """A service's own subclass, with its own code."""

    code = "odd_field_value"


def make_failing_service(name: str) -> type:
    class Failing(DisanService):
        db = Database(name)

        @rpc
        def reject(self, with_details: bool) -> None:
            details = {"title": ["bắt buộc / required"], "row": 3, "ok": False, "none": None}
            raise ValidationFailed("bản ghi không hợp lệ", details if with_details else None)

        @rpc
        def reject_oddly(self) -> None:
            raise OddFieldValue("giá trị lạ", [{"field": "date", "line": 7}])

        @rpc
        def explode(self) -> None:
            raise RuntimeError("not a client error")

    Failing.name = name
    return Failing


def test_details_of_a_disan_error_reach_the_caller_typed(unique, settings, container_factory):
    container_factory(make_failing_service(unique))
    with ClusterRpcProxy(nameko_config(settings, "caller")) as cluster:
        service = getattr(cluster, unique)
        with pytest.raises(ValidationFailed) as caught:
            call(service.reject, True)
        assert caught.value.message == "bản ghi không hợp lệ"
        # JSON types survive (nameko alone would stringify 3, False and None)
        assert caught.value.details == {
            "title": ["bắt buộc / required"],
            "row": 3,
            "ok": False,
            "none": None,
        }
        assert http_status(type(caught.value).__name__) == 422

        with pytest.raises(ValidationFailed) as plain:
            call(service.reject, False)
        assert plain.value.details is None and plain.value.message == "bản ghi không hợp lệ"

        with pytest.raises(ValidationFailed) as odd:
            call(service.reject_oddly)
        assert odd.value.code == "odd_field_value"
        assert odd.value.details == [{"field": "date", "line": 7}]

        with pytest.raises(RemoteError) as other:
            call(service.explode)
        assert other.value.exc_type == "RuntimeError"


def test_plain_nameko_callers_still_see_the_type_and_the_message(
    unique, settings, container_factory
):
    container_factory(make_failing_service(unique))
    with ClusterRpcProxy(nameko_config(settings, "caller")) as cluster:
        with pytest.raises(RemoteError) as caught:
            getattr(cluster, unique).reject(True)
    assert caught.value.exc_type == "ValidationFailed"
    assert caught.value.value == "bản ghi không hợp lệ"
