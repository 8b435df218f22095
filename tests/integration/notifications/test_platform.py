"""The notifications service with the real access, catalogue and gateway services, over HTTP:
review e-mail in Vietnamese, the journal of a record, the LGSP feed, the webhook routes and
who may call them."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from nameko.containers import ServiceContainer

from services.gateway.service import GatewayService
from services.notifications import domain
from shared.runner import nameko_config
from tests.conftest import free_port
from tests.integration.catalogue.conftest import record_body, start_catalogue_platform
from tests.integration.notifications.conftest import (
    SECRET,
    body,
    start_notifications,
    subject,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(settings, smtp):
    """Access, catalogue, notifications and a gateway that talks to all three."""
    catalogue, stop_catalogue = start_catalogue_platform(settings)
    notifications, stop_notifications = start_notifications(
        settings,
        smtp_port=smtp.port,
        config={
            "DISAN_ACCESS_SERVICE": catalogue.access_name,
            "DISAN_CATALOGUE_SERVICE": catalogue.catalogue_name,
        },
    )
    name = f"g{uuid.uuid4().hex[:10]}_gateway"
    gateway_cls = type("NotifyGateway", (GatewayService,), {"name": name})
    config = nameko_config(catalogue.settings, name)
    port = free_port()
    config |= {
        "DISAN_OPS_PORT": 0,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "DISAN_ACCESS_SERVICE": catalogue.access_name,
        "DISAN_CATALOGUE_SERVICE": catalogue.catalogue_name,
        "DISAN_NOTIFICATIONS_SERVICE": notifications.name,
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


def test_a_reviewer_gets_the_review_request_by_email_in_vietnamese(platform, smtp):
    reviewer = platform.token_for("reviewer")
    address = f"reviewer-{uuid.uuid4().hex[:6]}@haiphong.example.vn"
    answer = platform.request(
        "PUT", "/api/v1/notifications/preferences", token=reviewer, json={"email": address}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["language"] == "vi"
    english = f"admin-{uuid.uuid4().hex[:6]}@haiphong.example.vn"
    answer = platform.request(
        "PUT",
        "/api/v1/notifications/preferences",
        token=platform.token_for("admin"),
        json={"email": english, "language": "en"},
    )
    assert answer.status_code == 200, answer.text
    record = platform.create(record_body(title={"vi": "Đình Hàng Kênh", "en": "Hang Kenh"}))
    assert platform.move(record["id"], "submit", "cataloguer").status_code == 200
    (mail,) = wait_until(lambda: smtp.to(address), timeout=20)
    assert subject(mail).startswith("[Disan] Hồ sơ chờ duyệt: Đình Hàng Kênh")
    text = body(mail)
    assert "đang chờ anh/chị xem xét" in text and record["inventory_number"] in text
    assert f"/records/{record['id']}" in text
    # the link answers (the portal has no /records/{id} page yet): the record in the API
    link = re.search(r"https?://\S+/records/\S+", text)
    assert link is not None, text
    opened = platform.request("GET", urlsplit(link.group(0)).path, token=reviewer)
    assert opened.status_code == 200 and opened.json()["id"] == record["id"], link.group(0)
    assert mail["Content-Language"] == "vi"
    (other,) = wait_until(lambda: smtp.to(english), timeout=20)
    assert subject(other).startswith("[Disan] Record awaiting review: Hang Kenh")


def test_bad_preferences_are_refused(platform):
    token = platform.token_for("cataloguer")
    for payload in ({"email": "not-an-address"}, {"email": "a@b.vn", "language": "fr"}):
        answer = platform.request(
            "PUT", "/api/v1/notifications/preferences", token=token, json=payload
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "validation_failed"
        _says_why_in_both_languages(answer)


def test_the_journal_tells_everything_that_happened_to_a_record_in_order(platform):
    record = platform.create(record_body())
    rid = record["id"]
    assert platform.move(rid, "submit", "cataloguer").status_code == 200
    assert platform.move(rid, "reject", "reviewer", "thiếu nguồn").status_code == 200
    platform.publish(rid)
    expected = [
        ("catalogue.record_created", "draft"),
        ("catalogue.record_updated", "in_review"),
        ("catalogue.record_updated", "draft"),
        ("catalogue.record_updated", "in_review"),
        ("catalogue.record_published", "published"),
        ("access.record_visibility_changed", "published"),  # its images opened (ADR 0034)
    ]

    def history() -> list:
        answer = platform.request(
            "GET", f"/api/v1/journal/records/{rid}", token=platform.token_for("reviewer")
        )
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        return items if len(items) >= len(expected) else []

    items = wait_until(history, timeout=20)
    assert [(i["type"], i["data"]["state"]) for i in items] == expected
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
    assert all(i["record_id"] == rid for i in items)
    assert items[0]["actor"].startswith("user:")
    by_type = platform.request(
        "GET",
        "/api/v1/journal",
        token=platform.token_for("admin"),
        params={"type": "catalogue.record_published", "record_id": rid},
    ).json()["items"]
    published_event = next(i for i in items if i["type"] == "catalogue.record_published")
    assert [i["event_id"] for i in by_type] == [published_event["event_id"]]
    paged = platform.request(
        "GET",
        f"/api/v1/journal/records/{rid}",
        token=platform.token_for("admin"),
        params={"limit": 2},
    ).json()
    assert len(paged["items"]) == 2 and paged["next"]
    rest = platform.request(
        "GET",
        f"/api/v1/journal/records/{rid}",
        token=platform.token_for("admin"),
        params={"cursor": paged["next"]},
    ).json()["items"]
    assert [i["seq"] for i in paged["items"] + rest] == [i["seq"] for i in items]


def test_the_lgsp_feed_pages_published_changes_and_hides_drafts(platform):
    key = platform.new_key(name="LGSP Hải Phòng", roles=["partner"])["key"]
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    draft = platform.create(record_body())
    published = [platform.publish(platform.create(record_body())["id"]) for _ in range(3)]
    ids = {r["id"] for r in published}

    def feed(**params: str) -> dict:
        answer = platform.request("GET", "/api/v1/lgsp/records/changes", key=key, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    wait_until(lambda: ids <= {c["record_id"] for c in feed(since=since)["items"]}, timeout=20)
    seen: list[dict] = []
    page = feed(since=since, limit="2")
    while True:
        seen += page["items"]
        if not page["has_more"]:
            break
        page = feed(cursor=page["cursor"], limit="2")
    assert ids <= {c["record_id"] for c in seen}
    assert draft["id"] not in {c["record_id"] for c in seen}
    change = next(c for c in seen if c["record_id"] == published[0]["id"])
    assert change["change"] == "published" and change["title"]["vi"]
    assert change["href"].endswith(f"/api/v1/records/{published[0]['id']}")
    assert [c["change_id"] for c in seen] == sorted(c["change_id"] for c in seen)
    # the last cursor asks again later without repeats
    assert feed(cursor=page["cursor"])["items"] == []
    # a withdrawal reaches the platform as such, without the record's data; an edit of a
    # published record as "updated", with the new data
    assert platform.move(published[1]["id"], "withdraw", "reviewer").status_code == 200
    path = f"/api/v1/records/{published[2]['id']}"
    token = platform.token_for("admin")
    current = platform.request("GET", path, token=token)
    edited = {k: v for k, v in current.json().items() if k in record_body()}
    edited["title"] = {"vi": "Tên mới", "en": "New name"}
    answer = platform.request(
        "PUT", path, token=token, json=edited, headers={"If-Match": current.headers["ETag"]}
    )
    assert answer.status_code == 200, answer.text

    def both() -> list:
        items = feed(cursor=page["cursor"])["items"]
        return items if len(items) >= 2 else []

    later = wait_until(both, timeout=20)
    assert [(c["change"], c["record_id"]) for c in later] == [
        ("withdrawn", published[1]["id"]),
        ("updated", published[2]["id"]),
    ]
    assert "title" not in later[0] and later[0]["change_id"] > seen[-1]["change_id"]
    assert later[1]["title"] == {"vi": "Tên mới", "en": "New name"}
    assert "title" in later[1]["changed_fields"]
    bad = platform.request(
        "GET", "/api/v1/lgsp/records/changes", key=key, params={"since": "yesterday"}
    )
    assert bad.status_code == 422 and "ISO 8601" in bad.json()["error"]["message"]
    assert platform.request("GET", "/api/v1/lgsp/records/changes", key=key).status_code == 422


def _subscribe(platform, url: str, filters: dict) -> tuple[str, Any]:
    """A new partner key subscribed over HTTP to catalogue.record_published; (key, answer)."""
    key = platform.new_key(name="Đối tác Hải Phòng", roles=["partner"])["key"]
    created = platform.request(
        "POST",
        "/api/v1/webhooks",
        key=key,
        json={
            "url": url,
            "events": ["catalogue.record_published"],
            "secret": SECRET,
            "filters": filters,
        },
    )
    assert created.status_code == 201, created.text
    return key, created


def test_a_partner_manages_webhooks_over_http(platform, receiver):
    key, created = _subscribe(
        platform, receiver.url("/museum"), {"heritage_class": ["museum_object", "tangible_site"]}
    )
    sub = created.json()["id"]
    assert "secret" not in created.json()
    assert created.headers["Location"] == f"/api/v1/webhooks/{sub}"
    listed = platform.request("GET", "/api/v1/webhooks", key=key).json()["items"]
    assert [s["id"] for s in listed] == [sub]
    test = platform.request("POST", f"/api/v1/webhooks/{sub}/test", key=key)
    assert test.status_code == 202, test.text
    hit = wait_until(lambda: receiver.at("/museum"), timeout=20)[0]
    assert hit.envelope["type"] == "notifications.test"
    assert domain.verify(SECRET, hit.headers["X-Disan-Signature"], hit.body, int(time.time()))
    platform.publish(platform.create(record_body())["id"])
    published = wait_until(
        lambda: [h for h in receiver.at("/museum") if h.envelope["type"] != "notifications.test"],
        timeout=20,
    )
    assert published[0].envelope["type"] == "catalogue.record_published"

    def history_of() -> dict:
        page = platform.request("GET", f"/api/v1/webhooks/{sub}/deliveries", key=key).json()
        return page if {d["status"] for d in page["items"]} == {"delivered"} else {}

    history = wait_until(history_of)  # the answer is recorded a moment after it arrives
    assert len(history["items"]) == 2
    one = platform.request(
        "GET", f"/api/v1/webhooks/{sub}/deliveries/{history['items'][0]['id']}", key=key
    ).json()
    assert one["attempt_log"][0]["status"] == 200
    paused = platform.request("POST", f"/api/v1/webhooks/{sub}/pause", key=key).json()
    assert paused["state"] == "paused"
    assert platform.request("POST", f"/api/v1/webhooks/{sub}/resume", key=key).ok
    # another partner sees nothing of it
    other = platform.new_key(name="Đối tác khác", roles=["partner"])["key"]
    assert platform.request("GET", f"/api/v1/webhooks/{sub}", key=other).status_code == 404
    assert platform.request("DELETE", f"/api/v1/webhooks/{sub}", key=other).status_code == 404
    assert platform.request("DELETE", f"/api/v1/webhooks/{sub}", key=key).status_code == 200
    assert platform.request("GET", f"/api/v1/webhooks/{sub}", key=key).status_code == 404


def test_a_webhook_create_and_test_repeated_with_their_keys_act_once(platform, receiver):
    """Issue 14: a repeated POST /webhooks made a second subscription, a repeated test a second
    event; with the same Idempotency-Key each acts once and answers the same."""
    key = platform.new_key(name="Đối tác lặp lại", roles=["partner"])["key"]
    path = f"/repeat-{uuid.uuid4().hex[:6]}"
    body = {"url": receiver.url(path), "events": ["catalogue.record_published"], "secret": SECRET}
    create_key, test_key = str(uuid.uuid4()), str(uuid.uuid4())
    created = [
        platform.request(
            "POST", "/api/v1/webhooks", key=key, json=body, headers={"Idempotency-Key": create_key}
        )
        for _ in range(2)
    ]
    assert [c.status_code for c in created] == [201, 201], created[1].text
    assert created[1].json() == created[0].json()
    listed = platform.request("GET", "/api/v1/webhooks", key=key).json()["items"]
    assert [s["id"] for s in listed] == [created[0].json()["id"]]
    sub = created[0].json()["id"]
    tested = [
        platform.request(
            "POST", f"/api/v1/webhooks/{sub}/test", key=key, headers={"Idempotency-Key": test_key}
        )
        for _ in range(2)
    ]
    assert [t.status_code for t in tested] == [202, 202] and tested[1].json() == tested[0].json()
    wait_until(lambda: receiver.at(path), timeout=20)
    time.sleep(0.5)  # time for a second test event, were there one
    assert len(receiver.at(path)) == 1


def test_webhook_creation_refuses_bad_input_with_the_reason(platform):
    key = platform.new_key(name="Đối tác", roles=["partner"])["key"]
    for payload, status in (
        ({"url": "http://10.0.0.5/x", "events": ["catalogue.*"], "secret": SECRET}, 422),
        ({"url": "https://example.vn/x", "events": "catalogue.*", "secret": SECRET}, 422),
        ({"url": "https://example.vn/x", "events": ["catalogue.*"], "secret": "x"}, 422),
        ({"url": "http://[::1/x", "events": ["catalogue.*"], "secret": SECRET}, 422),
        ({"url": "https://example.vn:0/x", "events": ["catalogue.*"], "secret": SECRET}, 422),
        (["not", "an", "object"], 400),
    ):
        answer = platform.request("POST", "/api/v1/webhooks", key=key, json=payload)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["message"]
        _says_why_in_both_languages(answer)
    answer = platform.request(
        "POST", "/api/v1/webhooks", key=key, data=b"{", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400


def _says_why_in_both_languages(answer: Any) -> None:
    """A refusal's details carry its reason code and what it means in vi and en."""
    details = answer.json()["error"]["details"]
    assert details["reason"] and set(details["text"]) == {"vi", "en"}, answer.text
    assert all(details["text"].values()), answer.text


def test_bad_journal_and_history_queries_are_422_with_the_reason(platform, receiver):
    staff = platform.token_for("reviewer")
    for path, params in (
        ("/api/v1/journal", {"since": "hôm qua"}),
        ("/api/v1/journal", {"cursor": "ajE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"}),
        ("/api/v1/journal", {"limit": "100000"}),
        ("/api/v1/journal/records/HP-DT-0005", {}),
    ):
        answer = platform.request("GET", path, token=staff, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
        assert answer.json()["error"]["message"]
        _says_why_in_both_languages(answer)
    key, created = _subscribe(platform, receiver.url("/history"), {})
    history = f"/api/v1/webhooks/{created.json()['id']}/deliveries"
    for params in ({"cursor": "x"}, {"status": "lost"}, {"limit": "0"}):
        answer = platform.request("GET", history, key=key, params=params)
        assert answer.status_code == 422, (params, answer.text)
        _says_why_in_both_languages(answer)


ROUTES = [
    ("POST", "/api/v1/webhooks", ("partner",)),
    ("GET", "/api/v1/webhooks", ("partner",)),
    ("GET", "/api/v1/webhooks/{id}", ("partner",)),
    ("DELETE", "/api/v1/webhooks/{id}", ("partner",)),
    ("POST", "/api/v1/webhooks/{id}/pause", ("partner",)),
    ("POST", "/api/v1/webhooks/{id}/resume", ("partner",)),
    ("POST", "/api/v1/webhooks/{id}/test", ("partner",)),
    ("GET", "/api/v1/webhooks/{id}/deliveries", ("partner",)),
    ("GET", "/api/v1/webhooks/{id}/deliveries/{id}", ("partner",)),
    ("POST", "/api/v1/webhooks/{id}/deliveries/{id}/redeliver", ("partner",)),
    ("GET", "/api/v1/journal", ("cataloguer", "reviewer")),
    ("GET", "/api/v1/journal/records/{id}", ("cataloguer", "reviewer")),
    ("GET", "/api/v1/lgsp/records/changes", ("partner",)),
    ("GET", "/api/v1/notifications/preferences", ("cataloguer", "reviewer")),
    ("PUT", "/api/v1/notifications/preferences", ("cataloguer", "reviewer")),
]


@pytest.mark.parametrize("method, path, admitted", ROUTES)
def test_every_notifications_route_refuses_outsiders(platform, method, path, admitted):
    concrete = path.replace("{id}", str(uuid.uuid4()))
    kwargs = {"json": {}} if method in ("POST", "PUT") else {}
    anonymous = platform.request(method, concrete, **kwargs)
    assert anonymous.status_code == 401, anonymous.text
    for role in ("cataloguer", "reviewer", "researcher", "partner"):
        if role in admitted:
            continue
        answer = platform.request(method, concrete, token=platform.token_for(role), **kwargs)
        assert answer.status_code == 403, f"{method} {path} as {role}: {answer.status_code}"
    if "partner" not in admitted:
        key = platform.new_key(name="outsider", roles=["partner"])["key"]
        assert platform.request(method, concrete, key=key, **kwargs).status_code == 403


def test_the_openapi_document_describes_the_lgsp_feed_with_examples(platform):
    doc = platform.request("GET", "/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/lgsp/records/changes"]["get"]
    assert op["x-required-roles"] == ["partner"]
    assert {p["name"] for p in op["parameters"]} == {"since", "cursor", "limit"}
    assert all("example" in p for p in op["parameters"])
    assert doc["paths"]["/api/v1/webhooks"]["post"]["responses"]["201"]


def _prefs(platform, role: str, **body: object) -> str:
    address = f"{role}-{uuid.uuid4().hex[:6]}@haiphong.example.vn"
    answer = platform.request(
        "PUT",
        "/api/v1/notifications/preferences",
        token=platform.token_for(role),
        json={"email": address} | body,
    )
    assert answer.status_code == 200, answer.text
    return address


def test_a_fixity_failure_mails_the_administrators(platform, smtp):
    admin = _prefs(platform, "admin", language="vi")
    platform.notifications.publish(
        "media.fixity_failed",
        {
            "asset_id": str(uuid.uuid4()),
            "record_id": str(uuid.uuid4()),
            "master_key": "assets/x/original.tif",
            "expected_sha256": "a" * 64,
            "actual_sha256": "b" * 64,
            "detail": "mismatch",
        },
    )
    (mail,) = wait_until(lambda: smtp.to(admin), timeout=20)
    assert subject(mail).startswith("[Disan] CẢNH BÁO: kiểm tra toàn vẹn thất bại")
    assert "b" * 64 in body(mail)


def test_a_published_record_is_mailed_at_once_to_reviewers(platform, smtp):
    address = _prefs(platform, "reviewer")  # Vietnamese, no digest
    title = {"vi": "Chùa Dư Hàng", "en": "Du Hang pagoda"}
    record = platform.publish(platform.create(record_body(title=title))["id"])
    (mail,) = wait_until(
        lambda: [m for m in smtp.to(address) if "đã công bố" in subject(m)],
        timeout=20,
    )
    assert subject(mail) == f"[Disan] Hồ sơ đã công bố: Chùa Dư Hàng ({record['inventory_number']})"
    assert f"/records/{record['id']}" in body(mail) and "$" not in body(mail)


def test_digest_readers_get_one_mail_instead_of_each(platform, smtp):
    address = _prefs(platform, "cataloguer", digest=True, language="en")
    record = platform.publish(platform.create(record_body())["id"])
    held = wait_until(
        lambda: platform.notifications.sql(
            "SELECT subject FROM emails WHERE recipient = :r AND status = 'held'", r=address
        ),
        timeout=20,
    )
    assert any(record["inventory_number"] in row[0] for row in held)
    assert smtp.to(address) == []
    sent = platform.notifications.call("send_digests")
    assert sent["digests"] >= 1
    (digest,) = wait_until(lambda: smtp.to(address), timeout=20)
    assert subject(digest) == f"[Disan] Daily digest: {len(held)} notifications"
    assert record["inventory_number"] in body(digest)
    assert platform.notifications.call("send_digests")["digests"] == 0  # nothing held twice


def test_dead_letters_piling_up_mail_the_administrators(platform, smtp, settings):
    from kombu import Connection

    from shared.bus import DEAD_LETTERS

    admin = _prefs(platform, "admin", language="vi")
    marker = uuid.uuid4().hex
    with Connection(settings.amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(10):
            producer.publish(
                b"{}", exchange="", routing_key=DEAD_LETTERS, headers={"x-test-marker": marker}
            )
    try:
        answer = platform.notifications.call("check_dead_letters")
        assert answer["dead_letters"] >= 10 and answer["alerted"] is True
        assert platform.notifications.call("check_dead_letters")["alerted"] is False  # quiet
        (mail,) = wait_until(lambda: smtp.to(admin), timeout=20)
        assert "thông điệp lỗi đang chờ xử lý" in subject(mail)
    finally:
        with Connection(settings.amqp_uri) as conn:
            channel = conn.channel()
            others = []
            while (message := channel.basic_get(DEAD_LETTERS)) is not None:
                if (message.headers or {}).get("x-test-marker") == marker:
                    channel.basic_ack(message.delivery_tag)
                else:
                    others.append(message.delivery_tag)
            for tag in others:
                channel.basic_reject(tag, requeue=True)


def test_a_district_filter_admits_only_records_of_that_district(platform, receiver):
    _subscribe(platform, receiver.url("/le-chan"), {"district": ["le_chan"]})
    elsewhere = record_body(
        address={"district_pre2025": "ngo_quyen", "province_pre2025": "hai_phong"}
    )
    other = platform.publish(platform.create(elsewhere)["id"])
    mine = platform.publish(platform.create(record_body())["id"])  # le_chan
    hits = wait_until(lambda: receiver.at("/le-chan"), timeout=20)
    time.sleep(1.0)
    ids = [h.envelope["data"]["record_id"] for h in receiver.at("/le-chan")]
    assert ids == [mine["id"]] and other["id"] not in ids
    assert hits[0].envelope["type"] == "catalogue.record_published"


# malformed input at every route: a 4xx with the reason, never a 500 ------------------------------

GOOD = {"url": "https://partner.example.vn/hook", "events": ["catalogue.*"], "secret": SECRET}
BAD_SUBSCRIPTIONS = [
    {},
    GOOD | {"url": None},
    GOOD | {"url": 5},
    GOOD | {"url": "https://" + "a" * 3000 + ".vn/"},
    GOOD | {"url": "https://đình.vn/hook"},
    GOOD | {"url": "https://a..b/hook"},
    GOOD | {"url": "https://-a-.vn/hook"},
    GOOD | {"url": "https://exa mple.vn/hook"},
    GOOD | {"url": "https://x.vn/\x00"},
    GOOD | {"url": "https://[::1]x/hook"},
    GOOD | {"url": "https://" + "a" * 64 + ".vn/hook"},
    GOOD | {"events": [None]},
    GOOD | {"events": [["catalogue.*"]]},
    GOOD | {"events": ["*"] * 51},
    GOOD | {"filters": []},
    GOOD | {"filters": {"district": [1]}},
    GOOD | {"filters": {"district": ""}},
    GOOD | {"filters": {"heritage_class": None}},
    GOOD | {"contact_email": ["a@b.vn"]},
    GOOD | {"description": 5},
    GOOD | {"secret": 12345678901234567890},
    GOOD | {"secret": None},
]
BAD_QUERIES = [
    ("/api/v1/journal", {"type": ",,,"}),
    ("/api/v1/journal", {"type": "a.*,b.*"}),
    ("/api/v1/journal", {"since": "2026-02-30T00:00:00Z"}),
    ("/api/v1/journal", {"since": "99999-01-01T00:00:00Z"}),
    ("/api/v1/journal", {"until": "0001-01-01T00:00:00+14:00"}),
    ("/api/v1/journal", {"since": "9999-12-31T23:59:59-14:00"}),
    ("/api/v1/journal", {"actor": "user:" + "x" * 5000}),
    ("/api/v1/journal", {"limit": "-1"}),
    ("/api/v1/journal", {"limit": "1.5"}),
    ("/api/v1/journal", {"record_id": "đình"}),
    ("/api/v1/journal", {"cursor": "=" * 10}),
    ("/api/v1/journal/records/" + "9" * 40, {}),
    ("/api/v1/lgsp/records/changes", {"since": "0001-01-01T00:00:00+14:00"}),
    ("/api/v1/lgsp/records/changes", {"since": "2026-01-01T00:00:00Z", "limit": "9" * 30}),
    ("/api/v1/lgsp/records/changes", {"cursor": "ajE6"}),
]
BAD_PREFERENCES = [
    [],
    "text",
    {"email": None},
    {"email": "a@b.vn", "digest": "yes"},
    {"email": "a@b.vn", "language": None},
    {"email": "a@b.vn", "enabled": 1},
    {"email": "a" * 300 + "@b.vn"},
]


def test_malformed_subscriptions_are_4xx(platform):
    key = platform.new_key(name="Đối tác", roles=["partner"])["key"]
    for payload in BAD_SUBSCRIPTIONS:
        answer = platform.request("POST", "/api/v1/webhooks", key=key, json=payload)
        assert 400 <= answer.status_code < 500, (payload, answer.status_code, answer.text)
        assert answer.json()["error"]["message"]
        _says_why_in_both_languages(answer)
    some = str(uuid.uuid4())
    for method, path in (
        ("GET", "/api/v1/webhooks/not-a-uuid"),
        ("POST", "/api/v1/webhooks/%00/test"),
        ("GET", f"/api/v1/webhooks/{some}/deliveries/not-a-uuid"),
        ("POST", f"/api/v1/webhooks/{some}/deliveries/{'9' * 40}/redeliver"),
    ):
        answer = platform.request(method, path, key=key)
        assert answer.status_code == 404, (path, answer.text)


def test_malformed_queries_are_4xx_or_empty(platform):
    staff = platform.token_for("admin")
    key = platform.new_key(name="LGSP", roles=["partner"])["key"]
    for path, params in BAD_QUERIES:
        auth = {"key": key} if "lgsp" in path else {"token": staff}
        answer = platform.request("GET", path, params=params, **auth)
        assert answer.status_code < 500, (path, params, answer.status_code, answer.text)
        if answer.status_code >= 400:
            _says_why_in_both_languages(answer)


def test_malformed_preferences_are_4xx(platform):
    token = platform.token_for("cataloguer")
    for payload in BAD_PREFERENCES:
        answer = platform.request(
            "PUT", "/api/v1/notifications/preferences", token=token, json=payload
        )
        assert 400 <= answer.status_code < 500, (payload, answer.status_code, answer.text)
        _says_why_in_both_languages(answer)
