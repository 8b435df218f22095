"""Every service and the gateway, as deployed (real nameko containers, PostgreSQL, RabbitMQ,
Redis, S3 over HTTP), with one published record and one uploaded image whose ids fill the
path parameters that must name something real for a request to reach its body parsing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.media.conftest import MediaPlatform
from tests.integration.media.support import png
from tests.integration.notifications.conftest import start_notifications
from tests.integration.running import Services


class EdgePlatform(MediaPlatform):
    """The whole platform behind one gateway, and the ids of things that exist."""

    record_id: str = ""
    asset_id: str = ""

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for('admin')}"}


@pytest.fixture(scope="module")
def edge(settings: Any) -> Any:
    notifications, stop_notifications = start_notifications(settings)
    services = Services(settings, cache_seconds=0.5)
    services.sink("#")  # this module's events go with it, not to disan.unrouted
    config = {
        "DISAN_NOTIFICATIONS_SERVICE": notifications.name,
        "DISAN_IIIF_SERVICE": services.schema("iiif"),
    }
    platform = None
    try:
        services.start(["access", "catalogue", "media", "iiif"], config=config)
        platform = EdgePlatform(services)
        platform.record_id = platform.new_record()
        uploaded = platform.upload(platform.record_id, png(), "page.png")
        assert uploaded.status_code == 202, uploaded.text
        platform.asset_id = str(uploaded.json()["asset_id"])
        platform.publish(platform.record_id)
        yield platform
    finally:
        services.stop()
        if platform is not None:
            platform.close()
        stop_notifications()
