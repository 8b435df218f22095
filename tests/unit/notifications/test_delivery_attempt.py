"""One delivery attempt (pure apart from the sender, faked here): the attempt number it sends
and records is the one counted when the delivery was leased (ADR 0071)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications import delivery, domain


class Sender:
    def __init__(self, status: int) -> None:
        self.status = status
        self.headers: list[dict[str, str]] = []

    def post(self, owner: str, target: Any, address: str, body: bytes, headers: Any) -> int:
        self.headers.append(dict(headers))
        return self.status


def leased(attempts: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "subscription_id": uuid.uuid4(),
        "envelope": {"event_id": str(uuid.uuid4()), "type": "catalogue.record_published"},
        "attempts": attempts,  # as claim_due returns it: this attempt included
        "created_at": datetime.now(UTC) - timedelta(minutes=5),
        "url": "http://127.0.0.1:9/hook",
        "secret": "a-long-test-secret-0123456789",
    }


SETTINGS = domain.WebhookSettings(allow_loopback=True, require_https=False)


def test_the_attempt_sent_and_recorded_is_the_one_leased():
    sender = Sender(200)
    row = leased(attempts=3)  # two earlier attempts, one of them never recorded
    result = delivery.attempt(row, SETTINGS, sender, datetime.now(UTC))  # type: ignore[arg-type]
    assert sender.headers[0]["X-Disan-Attempt"] == "3"
    assert sender.headers[0]["X-Disan-Delivery-Id"] == str(row["id"])
    assert result["attempt"] == 3 and result["ok"]


def test_the_retry_delay_follows_the_attempts_made():
    now = datetime.now(UTC)
    first = delivery.attempt(leased(1), SETTINGS, Sender(500), now)  # type: ignore[arg-type]
    fourth = delivery.attempt(leased(4), SETTINGS, Sender(500), now)  # type: ignore[arg-type]
    assert first["next"] and fourth["next"] and not first["ok"]
    assert datetime.fromisoformat(fourth["next"]) > datetime.fromisoformat(first["next"])
