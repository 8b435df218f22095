"""The LGSP feed links a record's IIIF manifest only while the record has one (ADR 0067).

Every service and the gateway as deployed (real nameko containers, PostgreSQL, RabbitMQ, S3
over HTTP): a record published with an image has a manifest and the feed links it; a record
published without media has none (its manifest URL answers 404) and the feed links nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.gateway_bad_input.conftest import EdgePlatform
from tests.integration.media.support import png
from tests.integration.notifications.conftest import start_notifications, wait_until
from tests.integration.running import Services

pytestmark = pytest.mark.integration

FEED = "/api/v1/lgsp/records/changes"


@pytest.fixture(scope="module")
def whole(settings: Any) -> Any:
    notifications, stop_notifications = start_notifications(settings)
    services = Services(settings, cache_seconds=0.5)
    services.sink("#")
    config = {
        "DISAN_NOTIFICATIONS_SERVICE": notifications.name,
        "DISAN_IIIF_SERVICE": services.schema("iiif"),
    }
    platform = None
    try:
        services.start(["access", "catalogue", "media", "iiif"], config=config)
        platform = EdgePlatform(services)
        yield platform
    finally:
        services.stop()
        if platform is not None:
            platform.close()
        stop_notifications()


def test_the_feed_links_a_manifest_only_when_the_record_has_one(whole: Any) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with_image = whole.new_record()
    uploaded = whole.upload(with_image, png(), "page.png")
    assert uploaded.status_code == 202, uploaded.text
    whole.wait_done(str(uploaded.json()["asset_id"]))
    whole.publish(with_image)
    without_media = whole.new_record()
    whole.publish(without_media)
    manifest = f"/iiif/presentation/3/records/{with_image}/manifest"
    wait_until(lambda: whole.request("GET", manifest).status_code == 200, timeout=30)
    assert (
        whole.request("GET", f"/iiif/presentation/3/records/{without_media}/manifest").status_code
        == 404
    )
    key = whole.new_key(name="LGSP manifest", roles=["partner"])["key"]

    def published() -> dict[str, dict[str, Any]]:
        answer = whole.request("GET", FEED, key=key, params={"since": since, "limit": 500})
        assert answer.status_code == 200, answer.text
        items = {i["record_id"]: i for i in answer.json()["items"] if i["change"] == "published"}
        return items if {with_image, without_media} <= set(items) else {}

    items = wait_until(published, timeout=30)
    assert items[with_image]["manifest"].endswith(manifest)
    assert "manifest" not in items[without_media], items[without_media]
