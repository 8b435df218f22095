"""The has_images facet follows the media service's asset events."""

from __future__ import annotations

import uuid

import pytest

from shared.bus import ConfirmingPublisher
from shared.events import make_event
from shared.outbox import to_outgoing
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def announce(catalogue, event_type, data):
    publisher = ConfirmingPublisher(catalogue.settings.amqp_uri)
    try:
        with publisher.lock:
            publisher.publish(
                [to_outgoing(make_event(event_type, data, producer="media").to_dict())]
            )
    finally:
        publisher.close()


def has_images(catalogue, record_id):
    rows = catalogue.catalogue_sql(
        "SELECT has_images FROM records WHERE id = CAST(:id AS uuid)", id=record_id
    )
    return rows[0][0]


def test_an_ingested_image_sets_has_images_and_its_deletion_clears_it(catalogue):
    record = catalogue.create(record_body())
    catalogue.publish(record["id"])
    asset = str(uuid.uuid4())
    common = {"asset_id": asset, "record_id": record["id"]}
    announce(
        catalogue,
        "media.asset_ingested",
        common
        | {
            "format": "jpeg",
            "kind": "image",
            "size": 1234,
            "sha256": "0" * 64,
            "master_key": f"assets/{asset}/original.jpg",
        },
    )
    wait_until(lambda: has_images(catalogue, record["id"]))
    found = catalogue.request(
        "GET", "/api/v1/records", params={"q": record["inventory_number"], "has_images": "true"}
    ).json()
    assert [i["id"] for i in found["items"]] == [record["id"]]
    announce(catalogue, "media.asset_deleted", common | {"purge_after": "2026-12-31T00:00:00Z"})
    wait_until(lambda: not has_images(catalogue, record["id"]))
