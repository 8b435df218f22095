"""A notifications process killed mid-request and mid-delivery, again and again (issue 14).

Real RabbitMQ, PostgreSQL and HTTP receivers. A killed container leaves its RPC request
unacknowledged, so RabbitMQ hands it to the next process: creating RPCs must act once per
request key, and a delivery sent but not recorded must come again with its own delivery id and
a truthful attempt number.
"""

from __future__ import annotations

import uuid
from typing import Any

import eventlet
import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ServiceRpcProxy

import shared.rpc
from services.notifications import repository, subscriptions
from shared import idempotency
from shared.errors import Conflict
from shared.events import make_event
from shared.outbox import to_outgoing
from tests.integration.notifications.conftest import (
    PARTNER,
    SECRET,
    record_data,
    start_notifications,
    wait_until,
)

pytestmark = pytest.mark.integration


class Restartable:
    """A notifications service whose process can be killed and started again (same queues,
    same schema), as a supervisor restarts a crashed one."""

    def __init__(self, settings: Any) -> None:
        self.handle, self._stop = start_notifications(settings)
        self.current = self.handle.container

    def kill_and_restart(self) -> None:
        self.current.kill()  # unacknowledged messages go back to their queues
        self.current = ServiceContainer(self.current.service_cls, self.current.config)
        self.current.start()

    def close(self) -> None:
        if self.current is not self.handle.container:
            self.current.stop()
        self._stop(started=self.current is self.handle.container)


@pytest.fixture
def service(settings):
    restartable = Restartable(settings)
    yield restartable
    restartable.close()


def proxy(service: Restartable, key: str) -> ServiceRpcProxy:
    return ServiceRpcProxy(
        service.handle.name,
        {"AMQP_URI": service.handle.settings.amqp_uri},
        context_data={idempotency.CALL_KEY: key},
        timeout=30,
    )


def die_after_commit(monkeypatch, times: int) -> list[bool]:
    """The next ``times`` RPC workers commit, then hang before answering (and acking) until
    their process is killed: the effect is there, the request is still in the queue."""
    hung: list[bool] = []
    real = shared.rpc.commit_worker

    def commit_then_hang(worker_ctx: Any) -> None:
        real(worker_ctx)
        if len(hung) < times:
            hung.append(True)
            while True:
                eventlet.sleep(0.05)

    monkeypatch.setattr(shared.rpc, "commit_worker", commit_then_hang)
    return hung


def test_a_create_redelivered_after_each_of_several_crashes_makes_one_subscription(
    service, receiver, monkeypatch
):
    crashes = 3
    hung = die_after_commit(monkeypatch, crashes)
    url = receiver.url(f"/once-{uuid.uuid4().hex[:6]}")
    body = {"url": url, "events": ["catalogue.*"], "secret": SECRET}
    with proxy(service, str(uuid.uuid4())) as rpc:
        reply = rpc.create_subscription.call_async(PARTNER, body)
        for n in range(1, crashes + 1):
            wait_until(lambda n=n: len(hung) >= n, timeout=20)
            service.kill_and_restart()  # the request comes back to the next process
        created = reply.result()
    rows = service.handle.sql("SELECT id FROM subscriptions WHERE url = :u", u=url)
    assert [str(r.id) for r in rows] == [created["id"]]  # one, and the answer names it


def test_a_process_killed_mid_transaction_leaves_no_lock_and_the_redelivery_acts_once(
    service, receiver, monkeypatch
):
    """Killed before its commit, a worker's transaction (and its claim of the request key) must
    end with it, as the server ends it when a process dies: the redelivered request must not
    wait behind a lock nobody will release."""
    hung: list[bool] = []
    real = subscriptions.create

    def create_then_hang(*args: Any, **kwargs: Any) -> Any:
        created = real(*args, **kwargs)
        if not hung:
            hung.append(True)
            while True:  # inserted, not committed: the process dies here
                eventlet.sleep(0.05)
        return created

    monkeypatch.setattr(subscriptions, "create", create_then_hang)
    url = receiver.url(f"/mid-{uuid.uuid4().hex[:6]}")
    body = {"url": url, "events": ["catalogue.*"], "secret": SECRET}
    with proxy(service, str(uuid.uuid4())) as rpc:
        reply = rpc.create_subscription.call_async(PARTNER, body)
        wait_until(lambda: hung, timeout=20)
        service.kill_and_restart()
        with eventlet.Timeout(15):
            created = reply.result()
    rows = service.handle.sql("SELECT id FROM subscriptions WHERE url = :u", u=url)
    assert [str(r.id) for r in rows] == [created["id"]]


def test_a_repeated_test_request_sends_one_event_and_another_body_is_refused(service, receiver):
    sub = service.handle.subscribe(receiver.url("/test-once"), ["catalogue.*"])
    key = str(uuid.uuid4())
    with proxy(service, key) as rpc:
        first = rpc.send_test_event(PARTNER, sub)
        again = rpc.send_test_event(PARTNER, sub)
    assert again == first
    wait_until(lambda: receiver.at("/test-once"))
    eventlet.sleep(0.5)
    assert len(service.handle.deliveries(sub)) == 1
    assert len(receiver.at("/test-once")) == 1
    with proxy(service, key) as rpc, pytest.raises(Conflict) as refused:
        shared.rpc.call(rpc.send_test_event, PARTNER, str(uuid.uuid4()))
    assert refused.value.code == "idempotency_key_reused"


def test_a_delivery_sent_but_not_recorded_comes_again_with_its_id_and_true_attempt_number(
    service, receiver, monkeypatch
):
    crashes = 3
    hang_recording = [True]
    real = repository.record_results

    def record_or_die(*args: Any, **kwargs: Any) -> Any:
        while hang_recording[0]:  # the process dies before it records what it sent
            eventlet.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, "record_results", record_or_die)
    sub = service.handle.subscribe(receiver.url("/crashy"), ["catalogue.*"])
    event = service.handle.publish("catalogue.record_published", record_data())
    for crash in range(1, crashes + 1):
        wait_until(lambda crash=crash: len(receiver.at("/crashy")) >= crash, timeout=20)
        service.kill_and_restart()
        if crash == crashes:
            hang_recording[0] = False  # the process after the last crash records its attempt
        # the dead process's lease runs out (fast-forwarded: the lease is a minute)
        service.handle.sql(
            "UPDATE deliveries SET next_attempt_at = now() WHERE subscription_id = :s", s=sub
        )
    rows = wait_until(
        lambda: [r for r in service.handle.deliveries(sub) if r.status == "delivered"], timeout=20
    )
    hits = receiver.at("/crashy")
    assert len(service.handle.deliveries(sub)) == 1  # one delivery per (subscription, event)
    assert [h.headers["X-Disan-Event-Id"] for h in hits] == [event.event_id] * (crashes + 1)
    assert {h.headers["X-Disan-Delivery-Id"] for h in hits} == {str(rows[0].id)}
    assert [h.headers["X-Disan-Attempt"] for h in hits] == ["1", "2", "3", "4"]
    assert rows[0].attempts == crashes + 1
    history = service.handle.sql(
        "SELECT attempt FROM delivery_attempts WHERE delivery_id = :d", d=rows[0].id
    )
    assert [r.attempt for r in history] == [crashes + 1]  # the one attempt that was recorded


def test_an_event_published_again_after_a_crash_reaches_the_subscriber_once(service, receiver):
    """The outbox relay publishes an event again when it died between publishing and marking it
    sent: one delivery per (subscription, event), however many copies arrive."""
    sub = service.handle.subscribe(receiver.url("/copies"), ["catalogue.*"])
    event = make_event("catalogue.record_published", record_data(), producer="test")
    service.handle.publisher.publish([to_outgoing(event.to_dict())])
    service.handle.publisher.publish([to_outgoing(event.to_dict())])
    wait_until(lambda: receiver.at("/copies"), timeout=20)
    service.kill_and_restart()
    service.handle.publisher.publish([to_outgoing(event.to_dict())])
    wait_until(
        lambda: [r for r in service.handle.deliveries(sub) if r.status == "delivered"], timeout=20
    )
    eventlet.sleep(1.0)  # time for a second delivery, were there one
    assert [h.headers["X-Disan-Event-Id"] for h in receiver.at("/copies")] == [event.event_id]
    assert len(service.handle.deliveries(sub)) == 1
