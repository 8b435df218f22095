"""Webhook deliveries across real RabbitMQ, PostgreSQL and HTTP receivers on loopback."""

from __future__ import annotations

import socket
import time

import pytest
from nameko.exceptions import RemoteError

from services.notifications import delivery, domain
from tests.integration.notifications.conftest import (
    OTHER_PARTNER,
    PARTNER,
    SECRET,
    body,
    record_data,
    start_notifications,
    subject,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_a_receiver_gets_the_event_envelope_correctly_signed(notifications, receiver):
    sub = notifications.subscribe(receiver.url("/ok"), ["catalogue.*"])
    event = notifications.publish("catalogue.record_published", record_data())
    hit = wait_until(lambda: receiver.at("/ok"))[0]
    signature = hit.headers["X-Disan-Signature"]
    assert domain.verify(SECRET, signature, hit.body, now=int(time.time()))
    assert not domain.verify("another-secret-0123456789", signature, hit.body, int(time.time()))
    assert hit.envelope == event.to_dict()
    assert hit.headers["X-Disan-Event-Id"] == event.event_id
    assert hit.headers["X-Disan-Event-Type"] == "catalogue.record_published"
    assert hit.headers["Content-Type"].startswith("application/json")
    rows = wait_until(lambda: [r for r in notifications.deliveries(sub) if r.status == "delivered"])
    assert rows[0].attempts == 1 and rows[0].last_status == 200


def test_a_receiver_failing_five_times_then_recovering_gets_the_event_once_in_effect(
    notifications, receiver
):
    receiver.behaviour["/flaky"] = {"fail": 5, "status": 503}
    sub = notifications.subscribe(receiver.url("/flaky"), ["media.fixity_failed"])
    event = notifications.publish(
        "media.fixity_failed",
        {
            "asset_id": "6f1c7a8e-0d2b-4c3e-9a4f-1b2c3d4e5f60",
            "record_id": "0b7d3c52-3a8e-4d7f-9a61-5c2f1e0d9b44",
            "master_key": "assets/x/original.tif",
            "expected_sha256": "0" * 64,
        },
    )
    wait_until(lambda: [h for h in receiver.at("/flaky") if h.answered == 200], timeout=15)
    time.sleep(1.0)  # nothing more may come after the success
    hits = receiver.at("/flaky")
    assert [h.answered for h in hits] == [503] * 5 + [200]
    assert {h.headers["X-Disan-Event-Id"] for h in hits} == {event.event_id}
    assert {h.envelope["event_id"] for h in hits} == {event.event_id}
    assert [h.headers["X-Disan-Attempt"] for h in hits] == [str(n) for n in range(1, 7)]
    (row,) = notifications.deliveries(sub)
    assert (row.status, row.attempts) == ("delivered", 6)
    history = notifications.call("get_delivery", PARTNER, sub, str(row.id))
    assert [a["status"] for a in history["attempt_log"]] == [503] * 5 + [200]
    gaps = [b.at - a.at for a, b in zip(hits, hits[1:], strict=False)]
    assert gaps[-1] > gaps[0]  # backing off


def test_a_hanging_receiver_does_not_hold_up_the_others(notifications, receiver):
    receiver.behaviour["/hang"] = {"hang": True}
    hanging = notifications.subscribe(receiver.url("/hang"), ["catalogue.record_updated"])
    paths = [f"/fast{i}" for i in range(5)]
    for path in paths:
        notifications.subscribe(receiver.url(path), ["catalogue.record_updated"])
    started = time.monotonic()
    for _ in range(20):
        notifications.publish("catalogue.record_updated", record_data(changed_fields=["title"]))
    wait_until(lambda: all(len(receiver.at(p)) == 20 for p in paths), timeout=20)
    latest = max(h.at for p in paths for h in receiver.at(p))
    # the hanging receiver holds at most 4 requests for its 1 s timeout; the others finish
    # long before its 20 deliveries could have timed out one after another
    assert latest - started < 10
    rows = wait_until(
        lambda: [r for r in notifications.deliveries(hanging) if r.last_error], timeout=10
    )
    assert rows[0].last_error == "timed out"


def test_redirects_are_not_followed(notifications, receiver):
    receiver.behaviour["/moved"] = {"fail": 100, "status": 302}
    sub = notifications.subscribe(receiver.url("/moved"), ["catalogue.record_withdrawn"])
    notifications.publish("catalogue.record_withdrawn", record_data(state="withdrawn"))
    rows = wait_until(lambda: [r for r in notifications.deliveries(sub) if r.last_attempt_at])
    assert "redirects are not followed" in rows[0].last_error
    time.sleep(0.3)
    assert receiver.at("/ok") == []  # where the redirect pointed


def test_a_delivery_that_never_succeeds_is_dead_lettered_shown_and_announced(
    notifications, receiver
):
    receiver.behaviour["/down"] = {"fail": 1000, "status": 500}
    sub = notifications.subscribe(receiver.url("/down"), ["catalogue.record_deleted"])
    event = notifications.publish("catalogue.record_deleted", record_data(state="draft"))
    dead = wait_until(
        lambda: notifications.call("list_deliveries", PARTNER, sub, {"status": "dead"})["items"],
        timeout=15,
    )
    assert dead[0]["event_id"] == event.event_id and dead[0]["attempts"] >= 3
    announced = wait_until(
        lambda: notifications.sql(
            "SELECT envelope FROM outbox WHERE type = 'notifications.delivery_failed' "
            "AND envelope->'data'->>'event_id' = :e",
            e=event.event_id,
        )
    )
    assert announced[0][0]["data"]["delivery_id"] == dead[0]["id"]
    receiver.behaviour["/down"] = {}  # the receiver works again
    again = notifications.call("redeliver", PARTNER, sub, dead[0]["id"])
    assert again["status"] == "pending"
    delivered = wait_until(
        lambda: notifications.call("list_deliveries", PARTNER, sub, {"status": "delivered"})[
            "items"
        ]
    )
    assert delivered[0]["id"] == dead[0]["id"]
    assert receiver.at("/down")[-1].headers["X-Disan-Event-Id"] == event.event_id


def test_repeated_failures_pause_the_subscription_and_mail_its_contact(
    notifications, receiver, smtp
):
    receiver.behaviour["/broken"] = {"fail": 10_000, "status": 500}
    contact = "doi-tac@lgsp.example.vn"
    sub = notifications.subscribe(
        receiver.url("/broken"), ["catalogue.record_published"], contact_email=contact
    )
    for _ in range(12):  # (a draft's events reach no partner: issue 14)
        notifications.publish("catalogue.record_published", record_data())
    paused = wait_until(
        lambda: notifications.call("get_subscription", PARTNER, sub)["state"] == "paused",
        timeout=15,
    )
    assert paused
    mails = wait_until(lambda: smtp.to(contact), timeout=15)
    assert "tạm dừng" in subject(mails[0])
    text = body(mails[0])
    assert "$" not in subject(mails[0]) + text  # every placeholder filled
    assert receiver.url("/broken") in text and f"/api/v1/webhooks/{sub}/resume" in text
    # the partner chose no language: Vietnamese first, then English
    assert "Webhook paused after" in subject(mails[0])
    assert text.index("Kính gửi") < text.index("— English —") < text.index("Dear")
    count = len(receiver.at("/broken"))
    time.sleep(0.5)
    assert len(receiver.at("/broken")) <= count + 4  # in-flight ones at most, then silence
    receiver.behaviour["/broken"] = {}  # repaired: what waited goes out after the resume
    resumed = notifications.call("resume_subscription", PARTNER, sub)
    assert resumed["state"] == "active" and resumed["consecutive_failures"] == 0
    assert wait_until(lambda: [h for h in receiver.at("/broken") if h.answered == 200])


def test_the_test_event_is_signed_and_reaches_only_that_subscription(notifications, receiver):
    one = notifications.subscribe(receiver.url("/one"), ["catalogue.record_published"])
    notifications.subscribe(receiver.url("/two"), ["catalogue.record_published"])
    sent = notifications.call("send_test_event", PARTNER, one)
    hit = wait_until(lambda: receiver.at("/one"))[0]
    assert hit.envelope["type"] == "notifications.test"
    assert hit.envelope["event_id"] == sent["event_id"]
    assert domain.verify(SECRET, hit.headers["X-Disan-Signature"], hit.body, int(time.time()))
    message = hit.envelope["data"]["message"]
    assert set(message) == {"vi", "en"} and all(message.values())  # a language map
    time.sleep(0.3)
    assert receiver.at("/two") == []


def test_a_heritage_class_filter_admits_only_that_class(notifications, receiver):
    notifications.subscribe(
        receiver.url("/intangible"),
        ["catalogue.record_published"],
        filters={"heritage_class": ["intangible"]},
    )
    site = notifications.publish("catalogue.record_published", record_data())
    craft = notifications.publish(
        "catalogue.record_published", record_data(heritage_class="intangible")
    )
    wait_until(lambda: receiver.at("/intangible"))
    time.sleep(1.0)  # the site's event, journaled first, would have been delivered by now
    ids = [h.envelope["event_id"] for h in receiver.at("/intangible")]
    assert ids == [craft.event_id] and site.event_id not in ids


def test_bad_delivery_history_queries_are_refused_with_the_reason(notifications, receiver):
    sub = notifications.subscribe(receiver.url("/history"), ["catalogue.*"])
    for params, reason in (
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-delivery"}, "cursor"),
    ):
        with pytest.raises(RemoteError) as caught:
            notifications.call("list_deliveries", PARTNER, sub, params)
        assert caught.value.exc_type == "ValidationFailed", params
        assert reason in str(caught.value.value)
    with pytest.raises(RemoteError) as caught:
        notifications.call("get_delivery", PARTNER, sub, "not-a-uuid")
    assert caught.value.exc_type == "NotFound"


def test_subscriptions_belong_to_their_api_key(notifications, receiver):
    sub = notifications.subscribe(receiver.url("/mine"), ["catalogue.*"])
    listed = notifications.call("list_subscriptions", PARTNER)
    assert sub in [s["id"] for s in listed]
    assert all("secret" not in s for s in listed)
    assert sub not in [s["id"] for s in notifications.call("list_subscriptions", OTHER_PARTNER)]
    for method in ("get_subscription", "delete_subscription", "send_test_event"):
        with pytest.raises(RemoteError) as caught:
            notifications.call(method, OTHER_PARTNER, sub)
        assert caught.value.exc_type == "NotFound"


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"url": "ftp://example.vn/hook"}, "https"),
        ({"events": []}, "events"),
        ({"events": ["notifications.delivery_failed"]}, "notifications"),
        ({"secret": "short"}, "secret"),
        ({"filters": {"heritage_class": ["castle"]}}, "heritage_class"),
        ({"url": "http://user:pw@example.vn/"}, "credentials"),
        ({"url": "http://[::1/hook"}, "not a valid URL"),
        ({"url": "http://[zz]/hook"}, "not a valid URL"),
        ({"url": "https://example.vn:99999/hook"}, "not a valid URL"),
        ({"url": "https://example.vn:0/hook"}, "port"),
        ({"url": "https://example.vn/hook#x"}, "fragment"),
        ({"contact_email": "not an address"}, "email"),
        ({"filters": {"colour": ["red"]}}, "unknown filter"),
        ({"description": "x" * 501}, "description"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_reason(notifications, receiver, body, reason):
    good = {"url": receiver.url("/x"), "events": ["catalogue.*"], "secret": SECRET}
    with pytest.raises(RemoteError) as caught:
        notifications.call("create_subscription", PARTNER, good | body)
    assert caught.value.exc_type == "ValidationFailed"
    assert reason in str(caught.value.value)


# SSRF ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(settings):
    """A notifications service as production configures webhooks: no loopback."""
    handle, stop = start_notifications(settings, webhooks={"allow_loopback": False})
    yield handle
    stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://localhost:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://2130706433:{port}/hook",
        "http://0x7f.1:{port}/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0:{port}/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://does-not-exist.invalid/hook",
    ],
)
def test_ssrf_targets_are_refused_at_creation(strict, receiver, url):
    with pytest.raises(RemoteError) as caught:
        strict.subscribe(url.format(port=receiver.port), ["catalogue.*"])
    assert caught.value.exc_type == "ValidationFailed"
    assert "refused" in str(caught.value.value) or "resolve" in str(caught.value.value)


def test_a_name_rebound_to_loopback_after_creation_is_refused_at_delivery(
    strict, receiver, monkeypatch
):
    real = socket.getaddrinfo
    answer = {"address": "93.184.216.34"}

    def fake(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(delivery.socket, "getaddrinfo", fake)
    sub = strict.subscribe(f"http://rebind.example:{receiver.port}/rebound", ["catalogue.*"])
    answer["address"] = "127.0.0.1"  # the name now points at this machine
    strict.publish("catalogue.record_published", record_data())
    rows = wait_until(lambda: [r for r in strict.deliveries(sub) if r.last_attempt_at])
    assert rows[0].last_error.startswith("refused:")
    assert "loopback" in rows[0].last_error
    assert receiver.at("/rebound") == []


@pytest.fixture(scope="module")
def production(settings):
    """A notifications service started in production mode (no loopback flag)."""
    handle, stop = start_notifications(
        settings, webhooks={"allow_loopback": False}, environment="production"
    )
    yield handle
    stop()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://partner.example.vn/hook", "only https"),
        ("http://127.0.0.1:{port}/hook", "only https"),
        ("https://127.0.0.1:{port}/hook", "loopback"),
        ("https://[::1]:{port}/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
    ],
)
def test_production_accepts_only_https_to_public_addresses(production, receiver, url, reason):
    with pytest.raises(RemoteError) as caught:
        production.subscribe(url.format(port=receiver.port), ["catalogue.*"])
    assert caught.value.exc_type == "ValidationFailed"
    assert reason in str(caught.value.value)


def test_production_refuses_to_start_with_the_loopback_flag(settings):
    with pytest.raises(ValueError, match="production refuses loopback"):
        start_notifications(settings, webhooks={"allow_loopback": True}, environment="production")


def test_the_service_checks_roles_itself(notifications):
    researcher = {"kind": "user", "id": "7", "name": "nghiên cứu", "roles": ["researcher"]}
    anonymous = {"kind": "anonymous", "roles": []}
    calls = [
        ("query_journal", PARTNER, {}),
        ("query_journal", researcher, {}),
        ("lgsp_changes", researcher, {"since": "2026-01-01T00:00:00Z"}),
        ("create_subscription", researcher, {}),
        ("list_subscriptions", anonymous),
        ("get_email_preferences", PARTNER),
    ]
    for method, actor, *args in calls:
        with pytest.raises(RemoteError) as caught:
            notifications.call(method, actor, *args)
        assert caught.value.exc_type == "Forbidden", method
