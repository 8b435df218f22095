"""The event journal over real RabbitMQ and PostgreSQL: queries by type, time, record, asset and
actor; append-only; bad queries refused with the reason (never a server error)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nameko.exceptions import RemoteError
from sqlalchemy.exc import DBAPIError

from shared.events import Event, make_event
from shared.outbox import to_outgoing
from tests.integration.notifications.conftest import record_data, wait_until

pytestmark = pytest.mark.integration

STAFF = {"kind": "user", "id": "42", "name": "cán bộ", "roles": ["cataloguer"]}
DAY = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)


def _event(event_type: str, data: dict, actor: str, occurred_at: datetime) -> Event:
    event = make_event(event_type, data, producer="test", actor=actor)
    return dataclasses.replace(event, occurred_at=occurred_at)


@pytest.fixture(scope="module")
def journaled(notifications):
    """Five events of one actor on one record (two on its asset) at known times, journaled."""
    actor = f"user:{uuid.uuid4().hex[:8]}"
    record = record_data(state="draft")
    asset = str(uuid.uuid4())
    fixity = {
        "asset_id": asset,
        "record_id": record["record_id"],
        "master_key": f"assets/{asset}/original.tif",
        "expected_sha256": "0" * 64,
    }
    events = [
        _event("catalogue.record_created", record, actor, DAY),
        _event("media.fixity_failed", fixity, actor, DAY + timedelta(hours=1)),
        _event(
            "catalogue.record_updated",
            record | {"version": 2, "changed_fields": ["title"]},
            actor,
            DAY + timedelta(hours=2),
        ),
        _event(
            "catalogue.record_published",
            record | {"state": "published", "version": 3},
            actor,
            DAY + timedelta(hours=3),
        ),
        # names only the asset, not its record
        _event(
            "access.policy_changed",
            {"resource_kind": "asset", "resource_id": asset, "level": "restricted"},
            actor,
            DAY + timedelta(hours=4),
        ),
    ]
    notifications.publisher.publish([to_outgoing(e.to_dict()) for e in events])

    def everything() -> list:
        items = notifications.call("query_journal", STAFF, {"actor": actor})["items"]
        return items if len(items) == len(events) else []

    wait_until(everything, timeout=20)
    return {"actor": actor, "record": record["record_id"], "asset": asset, "events": events}


def _ids(answer: dict) -> list[str]:
    return [i["event_id"] for i in answer["items"]]


def test_the_journal_answers_by_actor_type_time_record_and_asset(notifications, journaled):
    actor, events = journaled["actor"], journaled["events"]
    ids = [e.event_id for e in events]

    def ask(**params: str) -> list[str]:
        return _ids(notifications.call("query_journal", STAFF, {"actor": actor} | params))

    assert ask() == ids  # in journal order
    assert ask(type="catalogue.*") == [ids[0], ids[2], ids[3]]
    assert ask(type="media.*") == [ids[1]]
    assert ask(type="media.fixity_failed,catalogue.record_published") == [ids[1], ids[3]]
    # since is inclusive, until exclusive, both on when the event occurred, in any zone
    since, until = (DAY + timedelta(hours=1)).isoformat(), "2026-03-08T18:00:00+07:00"
    assert ask(since=since, until=until) == [ids[1]]  # 18:00 in Hanoi is the third's 11:00Z
    assert ask(since="2026-03-08T10:30:00Z") == [ids[2], ids[3], ids[4]]
    assert ask(asset_id=journaled["asset"]) == [ids[1], ids[4]]
    # its asset's fixity failure and access policy are part of the record's story
    assert _ids(notifications.call("record_journal", STAFF, journaled["record"], {})) == ids
    assert ask(record_id=journaled["record"], type="access.policy_changed") == [ids[4]]
    assert ask(actor="user:nobody") == []
    first = notifications.call("query_journal", STAFF, {"actor": actor, "limit": "4"})
    rest = notifications.call("query_journal", STAFF, {"actor": actor, "cursor": first["next"]})
    assert _ids(first) + _ids(rest) == ids and rest["next"] is None
    entry = notifications.call("query_journal", STAFF, {"actor": actor, "limit": "1"})["items"][0]
    assert entry["occurred_at"] == DAY.isoformat() and entry["actor"] == actor
    assert entry["record_id"] == journaled["record"] and entry["producer"] == "test"


def test_the_journal_is_append_only(notifications, journaled):
    for statement in (
        "UPDATE journal SET actor = 'user:forger' WHERE actor = :a",
        "DELETE FROM journal WHERE actor = :a",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            notifications.sql(statement, a=journaled["actor"])
    assert (
        len(notifications.call("query_journal", STAFF, {"actor": journaled["actor"]})["items"]) == 5
    )


def test_an_event_delivered_twice_is_journaled_once(notifications, journaled):
    again = journaled["events"][0]
    notifications.publisher.publish([to_outgoing(again.to_dict())])
    marker = notifications.publish(
        "catalogue.record_created", record_data(state="draft"), actor=journaled["actor"]
    )
    wait_until(
        lambda: (
            marker.event_id
            in _ids(notifications.call("query_journal", STAFF, {"actor": journaled["actor"]}))
        )
    )
    rows = notifications.sql("SELECT count(*) FROM journal WHERE event_id = :e", e=again.event_id)
    assert rows[0][0] == 1


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"since": "yesterday"}, "ISO 8601"),
        ({"until": "2026-03-08T10:00:00"}, "time zone"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "ajE6eA"}, "cursor"),  # "j1:x"
        ({"cursor": "ajE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"}, "cursor"),  # beyond bigint
        ({"record_id": "HP-DT-0005"}, "UUID"),
        ({"asset_id": "42"}, "UUID"),
    ],
)
def test_bad_journal_queries_are_refused_with_the_reason(notifications, params, reason):
    with pytest.raises(RemoteError) as caught:
        notifications.call("query_journal", STAFF, params)
    assert caught.value.exc_type == "ValidationFailed", caught.value
    assert reason in str(caught.value.value)
