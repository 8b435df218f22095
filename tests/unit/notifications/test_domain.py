"""Pure rules of the notifications service: signatures, SSRF refusals, retries, matching."""

from __future__ import annotations

import random
import time

import pytest

from services.notifications import domain, mail
from services.notifications.domain import Refused, WebhookSettings


def test_signature_is_stripe_like_and_verifies():
    body = b'{"event_id":"x"}'
    header = domain.sign("s3cret-s3cret-s3cret", body, 1_700_000_000)
    t, v1 = header.split(",")
    assert t == "t=1700000000" and v1.startswith("v1=") and len(v1) == 3 + 64
    assert domain.verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_010)


def test_signature_refuses_other_body_secret_or_old_timestamp():
    body = b"{}"
    header = domain.sign("s3cret-s3cret-s3cret", body, 1_700_000_000)
    assert not domain.verify("s3cret-s3cret-s3cret", header, b"{ }", now=1_700_000_000)
    assert not domain.verify("other-secret-other", header, body, now=1_700_000_000)
    assert not domain.verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_000 + 301)
    assert not domain.verify("s3cret-s3cret-s3cret", "garbage", body, now=int(time.time()))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "::127.0.0.1",
    ],
)
def test_private_loopback_link_local_multicast_reserved_addresses_are_refused(address):
    assert domain.address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert domain.address_refusal(address) is None


def test_loopback_flag_allows_loopback_only():
    assert domain.address_refusal("127.0.0.1", allow_loopback=True) is None
    assert domain.address_refusal("::1", allow_loopback=True) is None
    assert domain.address_refusal("::ffff:127.0.0.1", allow_loopback=True) is None
    assert domain.address_refusal("10.0.0.1", allow_loopback=True) is not None
    assert domain.address_refusal("169.254.169.254", allow_loopback=True) is not None


def test_a_name_with_any_private_address_is_refused():
    with pytest.raises(Refused, match="10.0.0.1"):
        domain.check_addresses("evil.example", ["93.184.216.34", "10.0.0.1"], False)
    with pytest.raises(Refused, match="does not resolve"):
        domain.check_addresses("nothing.example", [], False)


def test_target_urls():
    t = domain.parse_target("https://partner.example.vn:8443/hook?x=1", require_https=True)
    assert (t.host, t.port, t.path) == ("partner.example.vn", 8443, "/hook?x=1")
    for bad in (
        "http://partner.example.vn/hook",
        "ftp://x.vn/",
        "https://user:pw@x.vn/",
        "https:///nohost",
        "https://x.vn/#frag",
        "https://[::1/hook",
        "https://[::1]x/hook",
        "https://[zz]/hook",
        "https://x.vn:0/hook",
        "https://x.vn:70000/hook",
        42,
    ):
        with pytest.raises(Refused) as caught:
            domain.parse_target(bad, require_https=True)
        assert caught.value.reason in ("url", "https_required"), bad
    assert domain.parse_target("http://127.0.0.1:9/", require_https=False).port == 9


def test_settings_refuse_loopback_or_http_in_production():
    with pytest.raises(ValueError):
        WebhookSettings.from_config({"allow_loopback": "true"}, production=True)
    with pytest.raises(ValueError):
        WebhookSettings.from_config({"require_https": "false"}, production=True)
    prod = WebhookSettings.from_config({}, production=True)
    assert prod.require_https and not prod.allow_loopback
    dev = WebhookSettings.from_config({"allow_loopback": "true", "timeout_seconds": "2"}, False)
    assert dev.allow_loopback and not dev.require_https and dev.timeout_seconds == 2.0


def test_retry_delays_grow_with_jitter_and_are_capped():
    s = WebhookSettings(retry_base_seconds=10, retry_max_seconds=100)
    rng = random.Random(1)
    delays = [domain.retry_delay(n, s, rng) for n in range(1, 9)]
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    assert all(50 <= d <= 100 for d in delays[4:])
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jittered, not synchronised


KNOWN = ("catalogue.record_published", "media.fixity_failed", "notifications.delivery_failed")


def test_event_patterns_and_filters():
    assert domain.clean_events(["catalogue.*", "media.fixity_failed", "catalogue.*"], KNOWN) == [
        "catalogue.*",
        "media.fixity_failed",
    ]
    for bad in ([], ["nope"], ["notifications.delivery_failed"], "catalogue.*", [1]):
        with pytest.raises(Refused):
            domain.clean_events(bad, KNOWN)
    assert domain.type_matches(["catalogue.*"], "catalogue.record_published")
    assert domain.type_matches(["*"], "media.asset_ingested")
    assert not domain.type_matches(["*"], "notifications.delivery_failed")
    assert not domain.type_matches(["media.*"], "catalogue.record_published")
    filters = domain.clean_filters({"heritage_class": "tangible_site"})
    assert domain.filters_match(filters, {"heritage_class": "tangible_site"})
    assert not domain.filters_match(filters, {"heritage_class": "intangible"})
    assert domain.filters_match(filters, {"asset_id": "x"})
    with pytest.raises(Refused):
        domain.clean_filters({"heritage_class": ["castle"]})
    with pytest.raises(Refused):
        domain.clean_filters({"colour": ["red"]})


def test_event_types_that_match_no_known_type_are_refused():
    assert domain.clean_events(["*"], KNOWN) == ["*"]
    for typo in (["nope.nothing"], ["catalogue.record_publishd"], ["access.*"], ["media.x", "*"]):
        with pytest.raises(Refused) as caught:
            domain.clean_events(typo, KNOWN)
        assert caught.value.reason == "unknown_event_type"
        assert typo[0] in str(caught.value)
    with pytest.raises(Refused):  # a pattern matching only the service's own events
        domain.clean_events(["notifications.*"], KNOWN)


def test_review_request_is_a_record_entering_in_review():
    data = {"state": "in_review", "changed_fields": ["state"]}
    assert domain.mail_kind("catalogue.record_updated", data) == "review_requested"
    edit = {"state": "in_review", "changed_fields": ["title"]}
    assert domain.mail_kind("catalogue.record_updated", edit) is None
    assert domain.mail_kind("media.fixity_failed", {}) == "fixity_failed"
    assert domain.mail_kind("catalogue.record_published", {}) == "record_published"


def test_cursor_round_trip_and_refusal():
    assert domain.decode_cursor(domain.encode_cursor(42)) == 42
    for bad in ("not-a-cursor", domain.encode_cursor(-1), domain.encode_cursor(2**63)):
        with pytest.raises(Refused):
            domain.decode_cursor(bad)


def test_every_refusal_says_what_it_means_in_vietnamese_and_english():
    for reason, text in domain.REFUSAL_TEXT.items():
        assert set(text) == {"vi", "en"} and all(text.values()), reason
        assert domain.refusal_details(reason) == {"reason": reason, "text": text}
    refusals = []
    for call in (
        lambda: domain.check_addresses("x.vn", ["10.0.0.1"], False),
        lambda: domain.check_addresses("x.vn", [], False),
        lambda: domain.clean_events(["nope"], KNOWN),
        lambda: domain.clean_filters({"colour": ["red"]}),
        lambda: domain.clean_secret("short"),
        lambda: domain.clean_email("nobody"),
        lambda: domain.decode_cursor("?"),
        lambda: domain.parse_target("http://x.vn/", require_https=True),
    ):
        with pytest.raises(Refused) as caught:
            call()
        refusals.append(caught.value.reason)
    assert refusals == [
        "target_refused",
        "unresolvable",
        "events",
        "filters",
        "secret",
        "email",
        "cursor",
        "https_required",
    ]


def test_defaults_retry_for_a_day_and_the_test_event_speaks_both_languages():
    settings = WebhookSettings()
    assert settings.retry_window_seconds == 24 * 3600 and not settings.allow_loopback
    assert set(domain.TEST_MESSAGE) == {"vi", "en"} and all(domain.TEST_MESSAGE.values())


def test_lgsp_sees_published_records_and_their_withdrawal_only():
    assert domain.lgsp_visible("catalogue.record_published", {})
    assert domain.lgsp_visible("catalogue.record_withdrawn", {})
    assert domain.lgsp_visible("catalogue.record_updated", {"state": "published"})
    assert not domain.lgsp_visible("catalogue.record_updated", {"state": "draft"})
    assert not domain.lgsp_visible("catalogue.record_created", {})


@pytest.mark.parametrize("kind", [*domain.MAIL_KINDS, "digest"])
def test_every_template_exists_in_vietnamese_and_english(kind):
    for language in mail.LANGUAGES:
        subject, body = mail.render(kind, language, {"title": "Đình Hàng Kênh", "count": 3})
        assert subject.startswith("[Disan]") and body.strip()
    vi, _ = mail.render("review_requested", "vi", {"title": "Đình Hàng Kênh"})
    assert "chờ duyệt" in vi and "Đình Hàng Kênh" in vi


RECORD = {
    "record_id": "0b7d3c52-3a8e-4d7f-9a61-5c2f1e0d9b44",
    "inventory_number": "HP-DT-0005",
    "title": {"vi": "Đình Hàng Kênh", "en": "Hàng Kênh communal house"},
    "state": "in_review",
    "changed_fields": ["state"],
}
EVENT_DATA = {
    "review_requested": RECORD,
    "record_published": RECORD | {"state": "published", "comment": None},
    "fixity_failed": {
        "asset_id": "6f1c7a8e-0d2b-4c3e-9a4f-1b2c3d4e5f60",
        "record_id": RECORD["record_id"],
        "master_key": "assets/6f1c/original.tif",
        "expected_sha256": "a" * 64,
        "actual_sha256": None,  # the master could not be read at all
        "detail": "",
    },
    "dead_letters": {"count": 12, "threshold": 10},
    "subscription_paused": {
        "subscription_id": "5c2f1e0d-3a8e-4d7f-9a61-0b7d3c529b44",
        "owner": "key:k1",
        "consecutive_failures": 50,
        "reason": "HTTP 503",
    },
}


@pytest.mark.parametrize("kind", domain.MAIL_KINDS)
def test_every_mail_fills_every_placeholder_from_its_event(kind):
    """What ``mailing.process_jobs`` hands a template leaves no ``$name`` in the mail."""
    from services.notifications import mailing

    for language in mail.LANGUAGES:
        context = mailing.context_for(kind, EVENT_DATA[kind], language, "https://disan.vn/")
        context |= {"name": "Nguyễn Văn A", "actor": "user:42"}
        if kind == "subscription_paused":
            context["url"] = "https://lgsp.example.vn/hook"  # from the subscription
        subject, body = mail.render(kind, language, context)
        assert "$" not in subject + body, (kind, language, subject, body)
        assert "None" not in body
    if kind == "subscription_paused":
        assert "50" in subject and "https://lgsp.example.vn/hook" in body


def test_who_may_be_told_of_a_record_is_the_access_decision():
    from datetime import UTC, datetime, timedelta

    from shared.principals import Policy

    now = datetime(2026, 12, 7, tzinfo=UTC)
    partner = domain.owner_principal("key:k1", ["partner"])
    assert partner.kind == "api_key" and partner.id == "k1"
    researcher = domain.owner_principal("user:u1", ["researcher"])
    staff = domain.owner_principal("user:u2", ["reviewer"])
    restricted = {("record", "r"): Policy("restricted")}
    assert not domain.may_see(partner, "r", None, restricted, now)
    assert domain.may_see(researcher, "r", None, restricted, now)
    assert domain.may_see(staff, "r", None, {("record", "r"): Policy("staff_only")}, now)
    assert domain.may_see(partner, "r", None, {}, now)  # no policy: public
    ended = {("record", "r"): Policy("embargoed", now - timedelta(days=1))}
    assert domain.may_see(partner, "r", None, ended, now)
    # an asset's own policy wins over its record's; without one it has the record's
    opened = restricted | {("asset", "a"): Policy()}
    assert domain.may_see(partner, None, "a", opened, now)
    assert not domain.may_see(partner, "r", "a", restricted, now)
    data = {"level": "embargoed", "embargo_until": "2027-01-01T00:00:00+00:00", "reason": "x"}
    assert domain.policy_of(data).embargo_until == datetime(2027, 1, 1, tzinfo=UTC)


def test_readers_who_are_not_staff_hear_of_published_records_and_not_of_the_audit_log():
    assert domain.record_shown([])
    assert domain.record_shown([("catalogue.record_published", "published")])
    assert not domain.record_shown([("catalogue.record_created", "draft")])
    draft_deleted = [("catalogue.record_created", "draft"), ("catalogue.record_deleted", "draft")]
    assert not domain.record_shown(draft_deleted)
    assert not domain.announced_gone(draft_deleted)
    withdrawn = [
        ("catalogue.record_published", "published"),
        ("catalogue.record_withdrawn", "withdrawn"),
    ]
    assert domain.record_shown(withdrawn) and domain.announced_gone(withdrawn)
    partner = domain.owner_principal("key:k1", ["partner"])
    admin = domain.owner_principal("user:u1", ["admin"])
    assert not domain.may_hear_of(partner, "access.login_failed")
    assert domain.may_hear_of(admin, "access.login_failed")
    assert domain.may_hear_of(partner, "access.policy_changed")
    assert domain.may_hear_of(partner, "catalogue.record_published")
