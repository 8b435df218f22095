"""The notifications service: event journal, partner webhooks, staff e-mail, the LGSP feed.

Every domain event reaches ``handle_event`` (a reliable handler bound to ``#``): it is journaled
once, fanned out to the matching webhook subscriptions as pending deliveries, and turned into a
mail job when staff should hear of it. The delivery loop (``delivery.py``) and the mail timers
send what is pending. See ``README.md`` for the events, RPCs and routes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kombu import Connection
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.notifications import journal, mail, mailing, subscriptions
from services.notifications import repository as repo
from services.notifications.delivery import DeliveryWorker
from shared import contracts  # noqa: F401 - registers every contract: the journal reads all
from shared.bus import DEAD_LETTERS
from shared.consumer import reliable_handler
from shared.db import Database
from shared.events import Event
from shared.idempotency import idempotent
from shared.ops import OpsServer
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.rpc_client import ServiceClient, ServiceRpc
from shared.service import DisanService

JOURNAL_BATCH = 50
MAIL_INTERVAL = 2.0
DIGEST_CHECK_INTERVAL = 600.0
DEAD_LETTER_CHECK_INTERVAL = 300.0


class Mailer(DependencyProvider):  # type: ignore[misc]
    """The SMTP sender and the mail settings from ``extra.notifications``."""

    def setup(self) -> None:
        settings = self.container.config["DISAN_SETTINGS"]
        raw = settings.extra.get("notifications") or {}
        self.sender = mail.SmtpSender(mail.SmtpSettings.from_config(raw.get("smtp")))
        self.dead_letter_threshold = int(raw.get("dead_letter_threshold") or 10)
        self.digest_hour_utc = int(raw.get("digest_hour_utc") or 10)  # 17:00 in Hải Phòng
        self.public_url = settings.public_url
        self.amqp_uri = settings.amqp_uri

    def get_dependency(self, worker_ctx: Any) -> Mailer:
        return self

    def dead_letters(self) -> int:
        with Connection(self.amqp_uri, connect_timeout=5) as conn:
            declared = conn.default_channel.queue_declare(DEAD_LETTERS, passive=True)
            return int(declared.message_count)


class NotificationsService(DisanService):
    name = "notifications"

    db = Database("notifications")
    relay = OutboxRelay("notifications")
    deliveries = DeliveryWorker()
    mailer = Mailer()
    access: ServiceClient = ServiceRpc("access", "access service", timeout=10.0)
    catalogue: ServiceClient = ServiceRpc("catalogue", "catalogue service", timeout=10.0)
    ops = OpsServer(checks=("broker", "database"))

    # the journal -------------------------------------------------------------------------------
    @reliable_handler("#", batch=JOURNAL_BATCH)
    def handle_event(self, event: Event) -> None:
        """Journal every domain event; queue its webhook deliveries and mail."""
        if journal.record(self.db, event, self._district_of):
            self.deliveries.wake()

    def _district_of(self, record_id: str) -> str | None:
        """The record's (pre-2025) district, asked of the catalogue; None if it has none or
        is gone."""
        try:
            found = self.catalogue.call("get_record", mailing.SYSTEM_ACTOR, record_id)
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                return None
            raise
        district = (found.get("address") or {}).get("district_pre2025")
        return str(district) if district else None

    @rpc
    def query_journal(self, actor: Any, params: Any) -> dict[str, Any]:
        subscriptions.principal_of(actor, subscriptions.STAFF)
        return journal.query(self.db, dict(params or {}))

    @rpc
    def record_journal(self, actor: Any, record_id: Any, params: Any = None) -> dict[str, Any]:
        """Everything that happened to one record, in order."""
        subscriptions.principal_of(actor, subscriptions.STAFF)
        return journal.query(self.db, dict(params or {}) | {"record_id": str(record_id)})

    @rpc
    def lgsp_changes(self, actor: Any, params: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor, subscriptions.PARTNERS)
        return journal.lgsp_changes(
            self.db, dict(params or {}), self.settings.public_url, principal
        )

    # webhooks ----------------------------------------------------------------------------------
    @rpc
    @idempotent
    def create_subscription(self, actor: Any, body: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor, subscriptions.PARTNERS)
        return subscriptions.create(self.db, principal, body, self.deliveries.settings)

    @rpc
    def list_subscriptions(self, actor: Any) -> list[dict[str, Any]]:
        return subscriptions.listing(self.db, subscriptions.principal_of(actor))

    @rpc
    def get_subscription(self, actor: Any, sub_id: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        return subscriptions.view(subscriptions.owned(self.db, principal, sub_id))

    @rpc
    @idempotent
    def delete_subscription(self, actor: Any, sub_id: Any) -> dict[str, Any]:
        return subscriptions.delete(self.db, subscriptions.principal_of(actor), sub_id)

    @rpc
    @idempotent
    def pause_subscription(self, actor: Any, sub_id: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        return subscriptions.change_state(self.db, principal, sub_id, "paused")

    @rpc
    @idempotent
    def resume_subscription(self, actor: Any, sub_id: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        answer = subscriptions.change_state(self.db, principal, sub_id, "active")
        self.deliveries.wake()
        return answer

    @rpc
    @idempotent
    def send_test_event(self, actor: Any, sub_id: Any) -> dict[str, Any]:
        answer = subscriptions.send_test(self.db, subscriptions.principal_of(actor), sub_id)
        self.deliveries.wake()
        return answer

    @rpc
    def list_deliveries(self, actor: Any, sub_id: Any, params: Any = None) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        return subscriptions.deliveries(self.db, principal, sub_id, dict(params or {}))

    @rpc
    def get_delivery(self, actor: Any, sub_id: Any, delivery_id: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        return subscriptions.delivery_detail(self.db, principal, sub_id, delivery_id)

    @rpc
    @idempotent
    def redeliver(self, actor: Any, sub_id: Any, delivery_id: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor)
        answer = subscriptions.redeliver(self.db, principal, sub_id, delivery_id)
        self.deliveries.wake()
        return answer

    # e-mail ------------------------------------------------------------------------------------
    @rpc
    def get_email_preferences(self, actor: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor, subscriptions.STAFF)
        return mailing.preferences_view(repo.get_preferences(self.db, principal.id), principal.id)

    @rpc
    @idempotent
    def set_email_preferences(self, actor: Any, body: Any) -> dict[str, Any]:
        principal = subscriptions.principal_of(actor, subscriptions.STAFF)
        return mailing.set_preferences(self.db, principal.id, principal.name, body)

    def _list_staff(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = self.access.call("list_users", mailing.SYSTEM_ACTOR)
        return users

    @rpc
    def send_mail(self) -> dict[str, int]:
        """Resolve pending mail jobs and send pending e-mail now (the timer does it too)."""
        made = mailing.process_jobs(self.db, self._list_staff, self.mailer.public_url)
        self.db.commit()
        return {"jobs": made, "sent": mailing.send_pending(self.db, self.mailer.sender)}

    @rpc
    def send_digests(self) -> dict[str, int]:
        """Gather what each digest reader holds into one e-mail each, and send them."""
        made = mailing.make_digests(self.db)
        self.db.commit()
        return {"digests": made, "sent": mailing.send_pending(self.db, self.mailer.sender)}

    @rpc
    def check_dead_letters(self) -> dict[str, Any]:
        count = self.mailer.dead_letters()
        alerted = mailing.dead_letters_alert(
            self.db, count, self.mailer.dead_letter_threshold, 6.0, datetime.now(UTC)
        )
        return {"dead_letters": count, "alerted": alerted}

    @timer(interval=MAIL_INTERVAL, eager=True)  # type: ignore[untyped-decorator]
    def mail_timer(self) -> None:
        self.send_mail()

    @timer(interval=DIGEST_CHECK_INTERVAL, eager=False)  # type: ignore[untyped-decorator]
    def digest_timer(self) -> None:
        now = datetime.now(UTC)
        if now.hour == self.mailer.digest_hour_utc and now.minute < DIGEST_CHECK_INTERVAL / 60:
            self.send_digests()

    @timer(interval=DEAD_LETTER_CHECK_INTERVAL, eager=False)  # type: ignore[untyped-decorator]
    def dead_letter_timer(self) -> None:
        self.check_dead_letters()
