"""Nothing of a restricted record reaches a partner through the notifications surfaces (issue 14).

The real access, catalogue, notifications services and gateway, over HTTP, with webhook
receivers on loopback. Each surface is asked by a partner API key (which reads the record
itself as 403), an anonymous client and a revoked key; a public record published after the
restricted one shows that the surface has caught up before the test looks for a leak.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nameko.containers import ServiceContainer

from services.catalogue import demo
from services.gateway.service import GatewayService
from shared.runner import nameko_config
from tests.conftest import free_port
from tests.integration.access.conftest import PASSWORD
from tests.integration.catalogue.conftest import record_body, start_catalogue_platform
from tests.integration.notifications.conftest import SECRET, start_notifications, wait_until

pytestmark = pytest.mark.integration

FEED = "/api/v1/lgsp/records/changes"


@pytest.fixture(scope="module")
def platform(settings):
    """Access, catalogue, notifications and a gateway that talks to all three."""
    catalogue, stop_catalogue = start_catalogue_platform(settings)
    notifications, stop_notifications = start_notifications(
        settings,
        config={
            "DISAN_ACCESS_SERVICE": catalogue.access_name,
            "DISAN_CATALOGUE_SERVICE": catalogue.catalogue_name,
        },
    )
    name = f"g{uuid.uuid4().hex[:10]}_gateway"
    gateway_cls = type("LeakGateway", (GatewayService,), {"name": name})
    config = nameko_config(catalogue.settings, name)
    port = free_port()
    config |= {
        "DISAN_OPS_PORT": 0,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "DISAN_ACCESS_SERVICE": catalogue.access_name,
        "DISAN_CATALOGUE_SERVICE": catalogue.catalogue_name,
        "DISAN_NOTIFICATIONS_SERVICE": notifications.name,
        "DISAN_AUTH_CACHE_SECONDS": 0.5,
    }
    gateway = ServiceContainer(gateway_cls, config)
    gateway.start()
    catalogue.base = f"http://127.0.0.1:{port}"
    catalogue.notifications = notifications  # type: ignore[attr-defined]
    wait_until(lambda: catalogue.request("GET", "/healthz").ok, timeout=20)
    yield catalogue
    gateway.stop()
    stop_notifications()
    stop_catalogue()


def _restricted_then_public(platform: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record restricted before it is published, then a public one published after it."""
    restricted = platform.create(record_body())
    platform.set_policy("record", restricted["id"], level="restricted", reason="hồ sơ mật")
    platform.publish(restricted["id"])
    public = platform.publish(platform.create(record_body())["id"])
    return restricted, public


def _revoked_key(platform: Any) -> str:
    made = platform.new_key(name="Đối tác đã thu hồi", roles=["partner"])
    answer = platform.request(
        "DELETE", f"/api/v1/apikeys/{made['id']}", token=platform.token_for("admin")
    )
    assert answer.status_code == 200, answer.text
    time.sleep(1.0)  # past the gateway's key cache (0.5 s here)
    return str(made["key"])


def _nothing_of(record: dict[str, Any], text: str) -> None:
    for value in (record["id"], record["inventory_number"], record["title"]["vi"]):
        assert value not in text, f"{value!r} leaked"


def test_the_lgsp_feed_tells_a_partner_nothing_of_a_restricted_record(platform):
    key = platform.new_key(name="LGSP Hải Phòng", roles=["partner"])["key"]
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    restricted, public = _restricted_then_public(platform)
    # the record itself: 403 to this key (the rule every surface follows)
    assert (
        platform.request("GET", f"/api/v1/records/{restricted['id']}", key=key).status_code == 403
    )

    def caught_up() -> Any:
        answer = platform.request("GET", FEED, key=key, params={"since": since})
        assert answer.status_code == 200, answer.text
        ids = {c["record_id"] for c in answer.json()["items"]}
        return answer if public["id"] in ids else None

    answer = wait_until(caught_up, timeout=20)
    _nothing_of(restricted, answer.text)
    # a public record restricted later leaves the feed too (the feed follows the policy now),
    # and a draft deleted was never the partner's to know of
    platform.set_policy("record", public["id"], level="staff_only", reason="đang tranh chấp")
    draft = platform.create(record_body())
    admin = platform.token_for("admin")
    path = f"/api/v1/records/{draft['id']}"
    etag = platform.request("GET", path, token=admin).headers["ETag"]
    deleted = platform.request("DELETE", path, token=admin, headers={"If-Match": etag})
    assert deleted.status_code == 200, deleted.text
    later = platform.publish(platform.create(record_body())["id"])

    def caught_up_again() -> Any:
        found = platform.request("GET", FEED, key=key, params={"since": since})
        return found if later["id"] in found.text else None

    feed = wait_until(caught_up_again, timeout=20).text
    _nothing_of(public, feed)
    _nothing_of(draft, feed)
    anonymous = platform.request("GET", FEED, params={"since": since})
    assert anonymous.status_code == 401
    _nothing_of(restricted, anonymous.text)
    revoked = platform.request("GET", FEED, key=_revoked_key(platform), params={"since": since})
    assert revoked.status_code == 401
    _nothing_of(restricted, revoked.text)


def test_webhooks_carry_nothing_of_a_restricted_record_to_a_partner(platform, receiver):
    key = platform.new_key(name="Bảo tàng đối tác", roles=["partner"])["key"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={"url": receiver.url("/partner"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    restricted, public = _restricted_then_public(platform)

    def public_arrived() -> bool:
        return any(
            h.envelope["type"] == "catalogue.record_published"
            and h.envelope["data"]["record_id"] == public["id"]
            for h in receiver.at("/partner")
        )

    wait_until(public_arrived, timeout=20)
    time.sleep(0.5)  # anything queued with it has gone out too
    for hit in receiver.at("/partner"):
        _nothing_of(restricted, hit.body.decode())
    history = platform.request("GET", f"/api/v1/webhooks/{sub}/deliveries", key=key)
    assert history.status_code == 200 and history.json()["items"], history.text
    for item in history.json()["items"]:
        one = platform.request("GET", f"/api/v1/webhooks/{sub}/deliveries/{item['id']}", key=key)
        _nothing_of(restricted, one.text)
    anonymous = platform.request("GET", f"/api/v1/webhooks/{sub}/deliveries")
    assert anonymous.status_code == 401
    revoked = platform.request(
        "GET", f"/api/v1/webhooks/{sub}/deliveries", key=_revoked_key(platform)
    )
    assert revoked.status_code == 401
    _nothing_of(restricted, revoked.text)


def _subscription(platform: Any, sub: str) -> dict[str, Any]:
    found: dict[str, Any] = platform.notifications.call(
        "get_subscription", {"kind": "user", "id": "ops", "roles": ["admin"]}, sub
    )
    return found


def test_revoking_a_key_pauses_its_webhooks_at_once_until_an_admin_resumes(platform, receiver):
    made = platform.new_key(name="Đối tác sắp thu hồi", roles=["partner"])
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=made["key"],
        json={"url": receiver.url("/revoked"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    admin = platform.token_for("admin")
    answer = platform.request("DELETE", f"/api/v1/apikeys/{made['id']}", token=admin)
    assert answer.status_code == 200, answer.text
    paused = wait_until(
        lambda: (s := _subscription(platform, sub))["state"] == "paused" and s, timeout=20
    )
    assert "revoked" in paused["paused_reason"]
    record = platform.publish(platform.create(record_body())["id"])
    wait_until(
        lambda: platform.notifications.sql(
            "SELECT 1 FROM deliveries WHERE subscription_id = CAST(:s AS uuid) "
            "AND envelope->'data'->>'record_id' = :r",
            s=sub,
            r=record["id"],
        ),
        timeout=20,
    )
    time.sleep(1.0)
    assert receiver.at("/revoked") == []  # queued, never sent
    resumed = platform.request("POST", f"/api/v1/webhooks/{sub}/resume", token=admin)
    assert resumed.status_code == 200 and resumed.json()["state"] == "active", resumed.text
    wait_until(lambda: receiver.at("/revoked"), timeout=20)


def test_disabling_a_user_pauses_their_webhooks(platform, receiver):
    token = platform.token_for("partner")
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        token=token,
        json={"url": receiver.url("/disabled"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    user_id = platform.users["partner"]["id"]
    answer = platform.request(
        "PUT",
        f"/api/v1/users/{user_id}/disabled",
        token=platform.token_for("admin"),
        json={"disabled": True},
    )
    assert answer.status_code == 200, answer.text
    paused = wait_until(
        lambda: (s := _subscription(platform, sub))["state"] == "paused" and s, timeout=20
    )
    assert "disabled" in paused["paused_reason"]
    platform.publish(platform.create(record_body())["id"])
    time.sleep(1.5)
    assert receiver.at("/disabled") == []


@pytest.mark.parametrize(
    "events",
    [["nope.nothing"], ["catalogue.record_publishd"], ["nope.*"], ["catalogue.*", "x.y"]],
)
def test_event_types_that_do_not_exist_are_refused(platform, events):
    key = platform.new_key(name="Đối tác gõ nhầm", roles=["partner"])["key"]
    answer = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={"url": "https://example.vn/hook", "events": events, "secret": SECRET},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["details"]["reason"] == "unknown_event_type"
    assert set(error["details"]["text"]) == {"vi", "en"}
    assert events[-1] in error["message"]


def test_the_restricted_demo_record_reaches_no_partner(platform, receiver):
    key = platform.new_key(name="Đối tác xem dữ liệu mẫu", roles=["partner"])["key"]
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={"url": receiver.url("/demo"), "events": ["*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    demo.load_into_stack(platform.settings, platform.catalogue_name, platform.access_name)
    by_key = {i["key"]: i for i in demo.items()}
    restricted = by_key["dia-ba"]
    assert restricted["policy"] == "restricted" and restricted["state"] == "published"
    published = [i["id"] for i in demo.items() if i["state"] == "published"]
    public = [i for i in published if i != restricted["id"]]
    wait_until(
        lambda: (
            set(public)
            <= {
                h.envelope["data"].get("record_id")
                for h in receiver.at("/demo")
                if h.envelope["type"] == "catalogue.record_published"
            }
        ),
        timeout=30,
    )
    time.sleep(1.0)  # the restricted record's events, had they been queued, go out with them
    leaked = [
        h.envelope["type"] for h in receiver.at("/demo") if restricted["id"] in h.body.decode()
    ]
    assert leaked == []
    feed = platform.request("GET", FEED, key=key, params={"since": since, "limit": "500"})
    assert feed.status_code == 200 and restricted["id"] not in feed.text


def test_a_partner_subscribed_to_access_events_hears_nothing_of_the_audit_log(platform, receiver):
    key = platform.new_key(name="Đối tác tò mò", roles=["partner"])["key"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={"url": receiver.url("/audit"), "events": ["access.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    record = platform.create(record_body())
    assert platform.login("admin", "not the password").status_code == 401
    platform.new_key(name="Khóa của đối tác khác", roles=["partner"])
    platform.set_policy("record", record["id"], level="public", reason="mở")
    platform.publish(record["id"])
    # a record's public access events do reach it: the sign that the others had their turn
    wait_until(
        lambda: any(
            h.envelope["type"] == "access.record_visibility_changed"
            and h.envelope["data"]["record_id"] == record["id"]
            for h in receiver.at("/audit")
        ),
        timeout=20,
    )
    time.sleep(0.5)
    types = {h.envelope["type"] for h in receiver.at("/audit")}
    assert types <= {"access.policy_changed", "access.record_visibility_changed"}, types


def test_a_record_restricted_later_is_neither_sent_nor_shown_again(platform, receiver):
    key = platform.new_key(name="Đối tác lâu năm", roles=["partner"])["key"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={"url": receiver.url("/later"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]

    def delivery_of(record_id: str, status: str) -> str | None:
        rows = platform.notifications.sql(
            "SELECT id FROM deliveries WHERE subscription_id = CAST(:s AS uuid) "
            "AND envelope->'data'->>'record_id' = :r AND status = :st",
            s=sub,
            r=record_id,
            st=status,
        )
        return str(rows[0][0]) if rows else None

    sent = platform.publish(platform.create(record_body())["id"])
    sent_delivery = wait_until(lambda: delivery_of(sent["id"], "delivered"), timeout=20)
    assert platform.request("POST", f"/api/v1/webhooks/{sub}/pause", key=key).ok
    queued = platform.publish(platform.create(record_body())["id"])
    queued_delivery = wait_until(lambda: delivery_of(queued["id"], "pending"), timeout=20)
    for record in (sent, queued):
        platform.set_policy("record", record["id"], level="restricted", reason="thu hồi quyền")
    assert wait_until(lambda: delivery_of(queued["id"], "cancelled"), timeout=20)
    assert platform.request("POST", f"/api/v1/webhooks/{sub}/resume", key=key).ok
    after = platform.publish(platform.create(record_body())["id"])
    wait_until(lambda: any(after["id"] in h.body.decode() for h in receiver.at("/later")), 20)
    assert not any(queued["id"] in h.body.decode() for h in receiver.at("/later"))
    base = f"/api/v1/webhooks/{sub}/deliveries"
    for delivery_id in (sent_delivery, queued_delivery):
        shown = platform.request("GET", f"{base}/{delivery_id}", key=key)
        assert shown.status_code == 404, shown.text
        again = platform.request("POST", f"{base}/{delivery_id}/redeliver", key=key)
        assert again.status_code == 404, again.text


def test_a_subscriber_s_new_roles_decide_what_it_is_told(platform, receiver):
    admin = platform.token_for("admin")
    name = f"doi-tac-{uuid.uuid4().hex[:6]}"
    user = platform.request(
        "POST",
        "/api/v1/users",
        token=admin,
        json={"username": name, "password": PASSWORD, "roles": ["partner"]},
    )
    assert user.status_code == 201, user.text
    token = platform.login(name, PASSWORD, ip="10.7.7.7").json()["access_token"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        token=token,
        json={"url": receiver.url("/roles"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    first, _ = _restricted_then_public(platform)  # a partner: not told of the restricted one
    answer = platform.request(
        "PUT",
        f"/api/v1/users/{user.json()['id']}/roles",
        token=admin,
        json={"roles": ["partner", "researcher"]},
    )
    assert answer.status_code == 200, answer.text
    wait_until(
        lambda: platform.notifications.sql(
            "SELECT 1 FROM subscriptions WHERE id = CAST(:s AS uuid) "
            "AND 'researcher' = ANY(owner_roles)",
            s=sub,
        ),
        timeout=20,
    )
    second, _ = _restricted_then_public(platform)  # a researcher reads restricted records

    def published_to_it() -> set[str]:
        return {
            h.envelope["data"]["record_id"]
            for h in receiver.at("/roles")
            if h.envelope["type"] == "catalogue.record_published"
        }

    wait_until(lambda: second["id"] in published_to_it(), timeout=20)
    assert first["id"] not in published_to_it()


def test_a_partner_may_not_subscribe_to_the_audit_log(platform):
    key = platform.new_key(name="Đối tác", roles=["partner"])["key"]
    body = {"url": "https://example.vn/hook", "secret": SECRET}
    answer = platform.request(
        "POST", "/api/v1/webhooks", key=key, json=body | {"events": ["access.login_failed"]}
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["details"]["reason"] == "events_not_for_you"
    assert set(error["details"]["text"]) == {"vi", "en"}


def test_an_expired_key_s_webhooks_pause(platform, receiver):
    expires = datetime.now(UTC) + timedelta(seconds=4)
    made = platform.new_key(name="Khóa ngắn hạn", roles=["partner"], expires_at=expires.isoformat())
    wait_until(
        lambda: platform.notifications.sql(
            "SELECT 1 FROM journal WHERE type = 'access.api_key_created' AND data->>'key_id' = :k",
            k=made["id"],
        ),
        timeout=20,
    )
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=made["key"],
        json={"url": receiver.url("/expired"), "events": ["catalogue.*"], "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
    record = platform.publish(platform.create(record_body())["id"])
    paused = wait_until(
        lambda: (s := _subscription(platform, sub))["state"] == "paused" and s, timeout=20
    )
    assert "expired" in paused["paused_reason"]
    time.sleep(1.0)
    assert not any(record["id"] in h.body.decode() for h in receiver.at("/expired"))


def test_search_facets_and_linked_data_say_nothing_of_a_restricted_record(platform):
    """Surfaces that already follow the record route (ADR 0040, 0066): kept that way."""
    unique = uuid.uuid4().hex[:8]
    restricted = platform.create(
        record_body(title={"vi": f"Sắc phong mật {unique}", "en": f"Secret decree {unique}"})
    )
    platform.set_policy("record", restricted["id"], level="restricted", reason="hồ sơ mật")
    platform.publish(restricted["id"])
    key = platform.new_key(name="Đối tác tìm kiếm", roles=["partner"])["key"]
    revoked = _revoked_key(platform)
    staff = platform.token_for("reviewer")
    wait_until(
        lambda: (
            restricted["id"]
            in platform.request("GET", "/api/v1/records", token=staff, params={"q": unique}).text
        ),
        timeout=20,
    )
    time.sleep(1.0)  # the catalogue's policy projection and the gateway's cache
    for auth in ({}, {"key": key}):
        for path, params in (
            ("/api/v1/records", {"q": unique}),
            ("/api/v1/records/facets", {"q": unique}),
            (f"/api/v1/records/{restricted['id']}/jsonld", {}),
            (f"/api/v1/records/{restricted['id']}/dc.xml", {}),
        ):
            answer = platform.request("GET", path, params=params, **auth)
            assert answer.status_code in (200, 401, 403), (path, auth, answer.status_code)
            assert unique not in answer.text and restricted["inventory_number"] not in answer.text
            if path.endswith("/facets"):
                assert answer.json()["total"] == 0, answer.text
    for path in ("/api/v1/records", f"/api/v1/records/{restricted['id']}/jsonld"):
        answer = platform.request("GET", path, key=revoked, params={"q": unique})
        assert answer.status_code == 401 and unique not in answer.text
