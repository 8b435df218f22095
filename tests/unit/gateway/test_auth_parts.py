"""The gateway's small auth parts: client address, the TTL cache, cache purges."""

from __future__ import annotations

import time

from werkzeug.test import EnvironBuilder

from services.gateway.auth import client_ip
from services.gateway.http import ApiRequest
from shared.auth import TtlCache


def request(remote: str, **headers: str) -> ApiRequest:
    env = EnvironBuilder(path="/", headers=headers, environ_base={"REMOTE_ADDR": remote})
    return ApiRequest(env.get_environ())


def test_forwarded_address_is_believed_only_from_the_local_proxy():
    assert client_ip(request("127.0.0.1", **{"X-Real-IP": "203.0.113.9"})) == "203.0.113.9"
    assert client_ip(request("198.51.100.1", **{"X-Real-IP": "203.0.113.9"})) == "198.51.100.1"
    assert client_ip(request("127.0.0.1")) == "127.0.0.1"
    assert client_ip(request("127.0.0.1", **{"X-Real-IP": "x" * 100})) == "127.0.0.1"
    ingress = "10.42.0.0/16"  # a cluster's ingress pods, from DISAN_TRUSTED_PROXIES
    assert client_ip(request("10.42.3.7", **{"X-Real-IP": "203.0.113.9"}), ingress) == "203.0.113.9"
    assert client_ip(request("127.0.0.1", **{"X-Real-IP": "203.0.113.9"}), ingress) == "127.0.0.1"


def test_ttl_cache_expires_and_never_outlives_its_ttl():
    cache = TtlCache(0.05)
    cache.put("a", 1)
    cache.put("b", 2, ttl=10)  # capped at the cache's own TTL
    assert cache.get("a") == 1 and cache.get("b") == 2
    time.sleep(0.06)
    assert cache.get("a") is None and cache.get("b") is None


def test_ttl_zero_caches_nothing_and_pop_clear_purge():
    off = TtlCache(0)
    off.put("a", 1)
    assert off.get("a") is None
    cache = TtlCache(5, max_entries=2)
    cache.put("a", 1)
    cache.pop("a")
    assert cache.get("a") is None
    cache.put("b", 1)
    cache.put("c", 1)
    cache.put("d", 1)  # over the bound: the cache starts afresh rather than grow
    assert cache.get("b") is None and cache.get("d") == 1
    cache.clear()
    assert cache.get("d") is None


def test_a_record_visibility_change_purges_every_cached_policy():
    """Assets without a policy of their own follow their record's workflow (ADR 0034): the
    gateway cannot tell which cached asset policies belong to the record, so it drops them
    all; credentials stay."""
    from services.gateway.auth import PURGE_EVENTS, AccessGate

    assert "access.record_visibility_changed" in PURGE_EVENTS
    gate = AccessGate()
    gate.policies, gate.credentials = TtlCache(60), TtlCache(60)
    gate.policies.put(("asset", "a-1"), {"level": "staff_only"})
    gate.credentials.put("token", {"sub": "u"})
    gate.purge("access.record_visibility_changed", {"record_id": "r", "published": True})
    assert gate.policies.get(("asset", "a-1")) is None
    assert gate.credentials.get("token") == {"sub": "u"}
