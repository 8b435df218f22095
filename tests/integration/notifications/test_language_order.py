"""The LGSP feed and webhook bodies list ``vi`` first in every language map (issue 15), read
from the raw JSON text the partner receives (the journal and deliveries keep jsonb: en first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.catalogue.conftest import record_body
from tests.integration.catalogue.test_language_order import misordered
from tests.integration.notifications.conftest import SECRET, wait_until
from tests.integration.notifications.test_platform import platform  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def _published(platform: Any) -> dict[str, Any]:  # noqa: F811 - the fixture's name
    record = platform.create(record_body(title={"en": "Temple", "vi": "Đền"}))
    platform.publish(record["id"])
    return record  # type: ignore[no-any-return]


def test_the_lgsp_feed_lists_vi_first(platform: Any) -> None:  # noqa: F811
    key = platform.new_key(name="LGSP thứ tự", roles=["partner"])["key"]
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    record = _published(platform)

    def feed() -> str:
        answer = platform.request(
            "GET", "/api/v1/lgsp/records/changes", key=key, params={"since": since}
        )
        assert answer.status_code == 200, answer.text
        return answer.text if record["id"] in answer.text else ""

    text = wait_until(feed, timeout=20)
    assert '"vi"' in text
    assert misordered(text) == []


def test_webhook_bodies_list_vi_first(platform: Any, receiver: Any) -> None:  # noqa: F811
    key = platform.new_key(name="Webhook thứ tự", roles=["partner"])["key"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={
            "url": receiver.url("/order"),
            "events": ["catalogue.record_published"],
            "secret": SECRET,
        },
    )
    assert created.status_code == 201, created.text
    _published(platform)
    body = wait_until(lambda: receiver.at("/order"), timeout=20)[0].body.decode()
    assert '"vi"' in body
    assert misordered(body) == []
