"""Pure rules of the notifications service: signatures, SSRF, retries, matching, mail kinds.

No I/O and no framework imports: the delivery worker, the mail worker and the RPCs call these.
Who may see a record is the access service's pure ``authorize``, never a second copy of it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared import backoff
from shared.principals import (
    ADMIN,
    DEFAULT_POLICY,
    OPEN,
    STAFF,
    Item,
    Policy,
    Principal,
    asset_policy,
    authorize,
)

SIGNATURE_HEADER = "X-Disan-Signature"
SIGNATURE_VERSION = "v1"
# events a subscription may not ask for: the service's own (a failing receiver of
# delivery_failed would otherwise feed itself)
OWN_PREFIX = "notifications."
TEST_EVENT = "notifications.test"
# the text of the test event's ``message``: a language map like every user-visible text
TEST_MESSAGE = {
    "vi": "Sự kiện thử webhook của Disan: địa chỉ nhận và chữ ký hoạt động.",
    "en": "Disan webhook test event: the receiver and the signature work.",
}
MAX_EVENTS = 50
_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*\.(\*|[a-z][a-z0-9_]*))$")
HERITAGE_CLASSES = ("tangible_site", "intangible", "museum_object", "documentary")
FILTER_KEYS = ("heritage_class", "district")


class Refused(ValueError):
    """A subscription or a target is refused; the message says why (for a 422) and ``reason``
    is the stable code whose vi/en text ``refusal_details`` gives."""

    def __init__(self, message: str, reason: str = "url") -> None:
        super().__init__(message)
        self.reason = reason


# what each refusal means, for people: the error's ``message`` has the particulars, in English
REFUSAL_TEXT: dict[str, dict[str, str]] = {
    "url": {
        "vi": "URL không hợp lệ: cần một URL http(s) đầy đủ, có tên máy chủ và cổng hợp lệ, "
        "không chứa khoảng trắng, thông tin đăng nhập hay phần #.",
        "en": "The URL is not valid: give a full http(s) URL with a valid host and port, "
        "without spaces, credentials or a #fragment.",
    },
    "https_required": {
        "vi": "Hệ thống vận hành chỉ nhận địa chỉ https.",
        "en": "Production accepts only https addresses.",
    },
    "target_refused": {
        "vi": "Địa chỉ nhận bị từ chối: tên máy chủ trỏ tới địa chỉ nội bộ, loopback, link-local "
        "hoặc không công khai (chống SSRF).",
        "en": "The receiver is refused: its host points to a private, loopback, link-local or "
        "otherwise non-public address (SSRF protection).",
    },
    "unresolvable": {
        "vi": "Không phân giải được tên máy chủ của địa chỉ nhận.",
        "en": "The receiver's host name does not resolve.",
    },
    "events": {
        "vi": "Danh sách sự kiện không hợp lệ: 1–50 loại như catalogue.record_published, "
        "catalogue.* hoặc *; sự kiện notifications.* không gửi qua webhook.",
        "en": "The event list is not valid: 1–50 types such as catalogue.record_published, "
        "catalogue.* or *; notifications.* events are not sent by webhook.",
    },
    "unknown_event_type": {
        "vi": "Loại sự kiện không tồn tại: mỗi loại hoặc mẫu (như catalogue.*) phải khớp ít nhất "
        "một loại sự kiện mà Disan công bố, ví dụ catalogue.record_published.",
        "en": "The event type does not exist: each type or pattern (such as catalogue.*) must "
        "match at least one event type Disan announces, such as catalogue.record_published.",
    },
    "events_not_for_you": {
        "vi": "Loại sự kiện này thuộc nhật ký kiểm toán (đăng nhập, khóa API, người dùng, yêu cầu "
        "bị từ chối): chỉ quản trị viên được nhận.",
        "en": "These events belong to the audit log (sign-ins, API keys, users, refused "
        "requests): only administrators receive them.",
    },
    "filters": {
        "vi": "Bộ lọc không hợp lệ: chỉ nhận heritage_class và district, mỗi bộ lọc là danh "
        "sách mã.",
        "en": "The filters are not valid: only heritage_class and district, each a list of codes.",
    },
    "secret": {
        "vi": "Khóa bí mật phải là chuỗi 16–256 ký tự (nên là chuỗi ngẫu nhiên dài).",
        "en": "The secret is a string of 16–256 characters (a long random one).",
    },
    "email": {
        "vi": "Địa chỉ e-mail không hợp lệ.",
        "en": "The e-mail address is not valid.",
    },
    "description": {
        "vi": "Mô tả là văn bản tối đa 500 ký tự.",
        "en": "The description is a text of at most 500 characters.",
    },
    "too_many": {
        "vi": "Khóa API này đã có số đăng ký webhook tối đa.",
        "en": "This API key has the most webhook subscriptions allowed.",
    },
    "language": {
        "vi": "Ngôn ngữ là vi hoặc en.",
        "en": "The language is vi or en.",
    },
    "flag": {
        "vi": "digest và enabled là true hoặc false.",
        "en": "digest and enabled are true or false.",
    },
    "body": {
        "vi": "Nội dung gửi lên phải là một đối tượng JSON.",
        "en": "The body must be a JSON object.",
    },
    "time": {
        "vi": "Thời điểm theo ISO 8601 có múi giờ, ví dụ 2026-11-27T08:00:00+07:00.",
        "en": "A time in ISO 8601 with a time zone, such as 2026-11-27T08:00:00+07:00.",
    },
    "since_or_cursor": {
        "vi": "Cần since (thời điểm ISO 8601) cho lần hỏi đầu, hoặc cursor của trang trước.",
        "en": "Give since (an ISO 8601 time) for the first poll, or the previous page's cursor.",
    },
    "limit": {
        "vi": "limit là số nguyên trong giới hạn cho phép.",
        "en": "limit is a whole number within the allowed range.",
    },
    "cursor": {
        "vi": "cursor không phải do API này trả về; hãy dùng cursor của trang trước.",
        "en": "The cursor is not one this API returned; use the previous page's cursor.",
    },
    "id": {
        "vi": "Mã định danh phải là UUID.",
        "en": "The identifier must be a UUID.",
    },
    "status": {
        "vi": "Trạng thái là pending, delivered, dead hoặc cancelled.",
        "en": "The status is pending, delivered, dead or cancelled.",
    },
    "not_dead": {
        "vi": "Chỉ gửi lại được lần gửi đã hỏng hẳn (dead) hoặc đã hủy.",
        "en": "Only dead or cancelled deliveries can be sent again.",
    },
}


def refusal_details(reason: str) -> dict[str, Any]:
    """A refusal's details: the stable reason code and what it means in Vietnamese and English."""
    return {"reason": reason, "text": dict(REFUSAL_TEXT[reason])}


# signatures ------------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` — the X-Disan-Signature value."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse old timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split(",", 1)[1].split("=", 1)[1]
    return hmac.compare_digest(expected, parts.get(SIGNATURE_VERSION, ""))


# SSRF ------------------------------------------------------------------------------------------


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in ipaddress.ip_network("::/96") and int(ip) > 1:  # IPv4-compatible (deprecated)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not be sent to ``address`` (None: it may).

    Refused: private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) and
    documentation ranges, in IPv4 and IPv6, and IPv6 forms that embed such an IPv4 address.
    ``allow_loopback`` (development and tests only) lets loopback through, nothing else.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    candidate: ipaddress.IPv4Address | ipaddress.IPv6Address = ip
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv6 form that carries an IPv4 address reaches that address: judge it instead
        candidate = _embedded_v4(ip) or ip
    if candidate.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    for flag in ("link_local", "multicast", "private", "reserved", "unspecified"):
        if getattr(candidate, f"is_{flag}"):
            return f"{address} is a {flag.replace('_', '-')} address"
    if not candidate.is_global:
        return f"{address} is not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A webhook URL, checked for form (not yet resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def parse_target(url: Any, require_https: bool) -> Target:
    """Check a subscription's URL: http(s), a host, no credentials, no fragment."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise Refused("url is an absolute http(s) URL of at most 2000 characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url.strip()):
        raise Refused("url must not contain spaces or control characters (percent-encode them)")
    try:
        parts = urlsplit(url.strip())
        hostname, port = parts.hostname, parts.port
    except ValueError:  # "http://[::1", "http://[zz]/", port out of range
        raise Refused("url is not a valid URL (host or port malformed)") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("url must use https (or http outside production)")
    if require_https and parts.scheme != "https":
        raise Refused("only https targets are accepted in production", "https_required")
    if not hostname:
        raise Refused("url has no host")
    if "[" in parts.netloc and not re.search(r"\](:\d*)?$", parts.netloc):
        raise Refused("url is not a valid URL (text after the bracketed IPv6 host)")
    if parts.username or parts.password:
        raise Refused("url must not carry credentials; use the signing secret")
    if parts.fragment:
        raise Refused("url must not have a fragment")
    if port == 0:
        raise Refused("url has an invalid port (0)")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url.strip(), parts.scheme, hostname.lower(), port, path)


def check_addresses(host: str, addresses: Iterable[str], allow_loopback: bool) -> list[str]:
    """Every address ``host`` resolves to must be allowed (a DNS name resolving to a private
    address is refused even if it also has a public one); returns them in order."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise Refused(f"{host} does not resolve", "unresolvable")
    for address in found:
        reason = address_refusal(address, allow_loopback)
        if reason is not None:
            raise Refused(f"target {host} refused: {reason}", "target_refused")
    return found


# retries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSettings:
    """``extra.notifications.webhooks`` of the config file, with production-safe defaults."""

    allow_loopback: bool = False
    require_https: bool = True
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    concurrency: int = 100
    per_subscription: int = 4
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    retry_window_seconds: float = 24 * 3600.0
    pause_after_failures: int = 50
    poll_seconds: float = 0.02
    idle_poll_seconds: float = 0.5
    batch: int = 200

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, production: bool) -> WebhookSettings:
        """Typed values from the config (strings from the environment are converted); outside
        production plain http is accepted unless ``require_https`` is set."""
        raw = dict(raw or {})
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            value = raw.get(spec.name)
            if value in ("", None):
                continue
            kind: Any = type(spec.default)
            if kind is bool:
                value = str(value).strip().lower() in ("1", "true", "yes", "on")
            values[spec.name] = kind(value)
        values.setdefault("require_https", production)
        settings = dataclasses.replace(cls(), **values)
        if production and (settings.allow_loopback or not settings.require_https):
            raise ValueError("production refuses loopback webhook targets and plain http")
        if settings.concurrency < 1 or settings.per_subscription < 1:
            raise ValueError("webhook concurrency limits are at least 1")
        return settings


def retry_delay(attempt: int, settings: WebhookSettings, rng: random.Random | None = None) -> float:
    """Seconds before the attempt after ``attempt``: exponential, capped, "equal jitter"
    (half fixed, half random), so receivers coming back are not hit by a synchronized wave."""
    ceiling = backoff.exponential(attempt, settings.retry_base_seconds, settings.retry_max_seconds)
    return backoff.equal_jitter(ceiling, rng)


# subscriptions ---------------------------------------------------------------------------------


def clean_events(events: Any, known: Iterable[str]) -> list[str]:
    """The event types a subscription asks for: exact types, ``service.*`` or ``*``.

    Each must match at least one of the ``known`` types (the registered contracts) that a
    webhook may carry: a typo such as ``catalogue.record_publishd`` would otherwise be accepted
    and the partner would silently receive nothing.
    """
    if not isinstance(events, list) or not events or len(events) > MAX_EVENTS:
        raise Refused(f"events is a list of 1 to {MAX_EVENTS} event types", "events")
    deliverable = [t for t in known if not t.startswith(OWN_PREFIX)]
    cleaned: list[str] = []
    for item in events:
        if not isinstance(item, str) or not _PATTERN.match(item):
            raise Refused(
                f"{item!r} is not an event type such as catalogue.record_published", "events"
            )
        if item.startswith(OWN_PREFIX):
            raise Refused("notifications.* events are not delivered by webhook", "events")
        if not any(type_matches([item], t) for t in deliverable):
            raise Refused(
                f"no event type {item!r}; e.g. catalogue.record_published or catalogue.*",
                "unknown_event_type",
            )
        if item not in cleaned:
            cleaned.append(item)
    return cleaned


def clean_filters(filters: Any) -> dict[str, list[str]]:
    """Filters: ``heritage_class`` and ``district`` (codes), each a list of allowed values."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise Refused(
            'filters is an object such as {"heritage_class": ["tangible_site"]}', "filters"
        )
    cleaned: dict[str, list[str]] = {}
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            raise Refused(f"unknown filter {key!r}; known: {', '.join(FILTER_KEYS)}", "filters")
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise Refused(f"filter {key} is a list of codes", "filters")
        if key == "heritage_class" and any(v not in HERITAGE_CLASSES for v in values):
            raise Refused(f"heritage_class is among {', '.join(HERITAGE_CLASSES)}", "filters")
        cleaned[key] = sorted(set(values))
    return cleaned


def clean_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not 16 <= len(secret) <= 256:
        raise Refused("secret is a string of 16 to 256 characters (a long random one)", "secret")
    return secret


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    if event_type.startswith(OWN_PREFIX):
        return False
    service = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{service}.*") for p in patterns)


def filters_match(filters: Mapping[str, list[str]], data: Mapping[str, Any]) -> bool:
    """Filters apply to events that carry the field (the journal adds a record's district);
    an event without it is not filtered."""
    for key, allowed in filters.items():
        value = data.get(key)
        if value is not None and str(value) not in allowed:
            return False
    return True


# the journal -----------------------------------------------------------------------------------


def subject_ids(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The record and asset an event is about, when it says."""
    record = data.get("record_id")
    asset = data.get("asset_id")
    if record is None and data.get("resource_kind") == "record":
        record = data.get("resource_id")
    if asset is None and data.get("resource_kind") == "asset":
        asset = data.get("resource_id")
    return (str(record) if record else None, str(asset) if asset else None)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"j1:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        seq = int(value)
        if kind != "j1" or not 0 <= seq < 2**63:  # a journal position is a bigint
            raise ValueError(kind)
        return seq
    except (ValueError, UnicodeDecodeError):
        raise Refused("cursor is not one this API returned", "cursor") from None


# who may see what ------------------------------------------------------------------------------

# why a subscription was paused when its owner lost access; only an administrator resumes it
REVOKED_PREFIX = "principal_revoked"
KEY_REVOKED = f"{REVOKED_PREFIX}: the API key was revoked"
USER_DISABLED = f"{REVOKED_PREFIX}: the user account was disabled"
KEY_EXPIRED = f"{REVOKED_PREFIX}: the API key expired"


def owner_principal(owner: str, roles: Iterable[str]) -> Principal:
    """The principal a subscription delivers to: its owner (``key:ID`` or ``user:ID``) with the
    roles it had when it subscribed (kept up to date from ``access.user_roles_changed``)."""
    kind, _, ident = owner.partition(":")
    return Principal(
        kind={"key": "api_key", "user": "user"}.get(kind, "anonymous"),
        id=ident,
        name=owner,
        roles=frozenset(roles),
    )


def policy_of(data: Mapping[str, Any]) -> Policy:
    """The access policy an ``access.policy_changed`` event set, as the access service holds it."""
    until = data.get("embargo_until")
    return Policy(
        level=str(data.get("level") or OPEN),
        embargo_until=datetime.fromisoformat(str(until)) if until else None,
        reason=str(data.get("reason") or ""),
    )


Policies = Mapping[tuple[str, str], Policy]


def is_staff(reader: Principal) -> bool:
    return bool(reader.roles & STAFF)


# the access events about records; the others (accounts, keys, logins, refusals) are the audit
# log's, which only administrators read (``list_audit``)
RECORD_ACCESS_EVENTS = ("access.policy_changed", "access.record_visibility_changed")


def check_audience(reader: Principal, events: list[str], known: Iterable[str]) -> None:
    """Refuse a type or pattern of which ``reader`` may receive no known type (a partner asking
    for ``access.login_failed``): it would silently receive nothing."""
    for item in events:
        if not any(type_matches([item], t) and may_hear_of(reader, t) for t in known):
            raise Refused(
                f"{item!r}: only administrators receive these events", "events_not_for_you"
            )


def may_hear_of(reader: Principal, event_type: str) -> bool:
    """Whether ``reader`` may receive events of this type at all: audit events (who signed in,
    failed to, holds which key or role, was refused) go to administrators only."""
    if event_type.startswith("access.") and event_type not in RECORD_ACCESS_EVENTS:
        return ADMIN in reader.roles
    return True


def may_see(
    reader: Principal,
    record_id: str | None,
    asset_id: str | None,
    policies: Policies,
    now: datetime,
) -> bool:
    """Whether ``reader`` may be told of a record or asset: the access service's one decision
    (``authorize``, read) on each item the event names, as ``GET /api/v1/records/{id}`` decides
    it. An asset's own policy wins over its record's (``asset_policy``); items without a known
    policy are public, as they are for the access service."""
    record = policies.get(("record", record_id)) if record_id else None
    items = []
    if record_id:
        items.append(Item("record", record_id, record or DEFAULT_POLICY))
    if asset_id:
        policy, _ = asset_policy(policies.get(("asset", asset_id)), record)
        items.append(Item("asset", asset_id, policy))
    return all(authorize(reader, "read", item, now).allowed for item in items)


GONE_TYPES = ("catalogue.record_withdrawn", "catalogue.record_deleted")


def record_shown(history: list[tuple[str, str | None]]) -> bool:
    """Whether a reader who is not staff may be told of a record, from its catalogue events
    in the journal (``(type, state)``, oldest version first): only published records are, as
    ``GET /api/v1/records/{id}`` answers 404 for the others, and the withdrawal or deletion of
    a record that was published (so a partner learns it went). A record the journal has no
    earlier event of is not judged here (its access policy still is)."""
    if not history:
        return True
    last_type, last_state = history[-1]
    if last_type in GONE_TYPES:
        return len(history) == 1 or any(state == "published" for _, state in history[:-1])
    return last_state in (None, "published")


def announced_gone(history: list[tuple[str, str | None]]) -> bool:
    """Whether the withdrawal or deletion of a record is news to readers who are not staff:
    only if it was published at some time (a deleted draft was never theirs to know of), or
    the journal knows nothing else of it."""
    return len(history) <= 1 or any(state == "published" for _, state in history)


# LGSP feed -------------------------------------------------------------------------------------

LGSP_TYPES = (
    "catalogue.record_published",
    "catalogue.record_updated",
    "catalogue.record_withdrawn",
    "catalogue.record_deleted",
)
_CHANGE = {
    "catalogue.record_published": "published",
    "catalogue.record_updated": "updated",
    "catalogue.record_withdrawn": "withdrawn",
    "catalogue.record_deleted": "deleted",
}


def lgsp_visible(event_type: str, data: Mapping[str, Any]) -> bool:
    """The city platform sees published records, and learns when one stops being public; it
    never sees drafts or records under review."""
    if event_type == "catalogue.record_updated":
        return data.get("state") == "published"
    return event_type in _CHANGE


def lgsp_change(row: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """One entry of the LGSP feed, from a journal row."""
    data = row["data"]
    change = _CHANGE[row["type"]]
    entry: dict[str, Any] = {
        "change_id": int(row["seq"]),
        "change": change,
        "changed_at": row["occurred_at"],
        "record_id": str(data["record_id"]),
        "version": data.get("version"),
        "href": f"{public_url.rstrip('/')}/api/v1/records/{data['record_id']}",
    }
    if change in ("published", "updated"):
        entry |= {
            "inventory_number": data.get("inventory_number"),
            "heritage_class": data.get("heritage_class"),
            "state": data.get("state"),
            "title": data.get("title"),
            "changed_fields": data.get("changed_fields", []),
            "manifest": (
                f"{public_url.rstrip('/')}/iiif/presentation/3/records/{data['record_id']}/manifest"
            ),
        }
    return entry


# e-mail ----------------------------------------------------------------------------------------

MAIL_KINDS = (
    "review_requested",
    "record_published",
    "fixity_failed",
    "dead_letters",
    "subscription_paused",
)
# who is told of what (roles from the access service); subscription_paused goes to the partner
RECIPIENT_ROLES: dict[str, tuple[str, ...]] = {
    "review_requested": ("reviewer", "admin"),
    "record_published": ("cataloguer", "reviewer"),
    "fixity_failed": ("admin",),
    "dead_letters": ("admin",),
}


def mail_kind(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The staff e-mail an event calls for, if any.

    A record enters review through ``submit``, announced as ``catalogue.record_updated`` with
    ``state == "in_review"`` and ``"state"`` among ``changed_fields``.
    """
    if event_type == "catalogue.record_updated":
        if data.get("state") == "in_review" and "state" in (data.get("changed_fields") or []):
            return "review_requested"
        return None
    return {
        "catalogue.record_published": "record_published",
        "media.fixity_failed": "fixity_failed",
        "notifications.subscription_paused": "subscription_paused",
    }.get(event_type)


def title_in(title: Any, language: str) -> str:
    """A language map's text in ``language``, Vietnamese first as the fallback."""
    if isinstance(title, Mapping):
        for lang in (language, "vi", "en"):
            if title.get(lang):
                return unicodedata.normalize("NFC", str(title[lang]))
        return ""
    return str(title or "")


EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def clean_email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.match(value.strip()):
        raise Refused("email is an address such as ten@example.vn", "email")
    return value.strip()
