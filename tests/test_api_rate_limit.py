"""The store API's rate limit per site API key: a token bucket in Django's cache, shared by every process.

Over the limit a request gets 429 with Retry-After and the API's error shape
and stores nothing; another key is not affected; after Retry-After the key
gets through again. Time is moved by hand, never slept.
"""
from __future__ import annotations

import json

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from chatdesk.models import Order
from chatdesk.storeapi import throttle
from chatdesk.storeapi.throttle import Limit, gcra, parse_limit, refill, take

from .conftest import ON_REDIS, make_site
from .fuzzing import diff_counts, row_counts

pytestmark = pytest.mark.django_db

CART = {"currency": "USD", "items": [{"sku": "TEE-1", "name": "T-shirt", "quantity": 1, "unit_price": "19.99"}]}
ORDER = {"order_id": "1001", "cart_token": "abc", "currency": "USD", "total": "19.99", "items": CART["items"],
         "created_at": "2025-05-01T12:00:00Z"}


@pytest.fixture
def now(monkeypatch, site):
    """The limiter's clock, moved by the test (now[0] += seconds), and the site's bucket full: in Redis an
    earlier run's bucket for the same site id may still be there."""
    moment = [1_800_000_000.0]
    monkeypatch.setattr(throttle, "clock", lambda: moment[0])
    refill(site.pk)
    return moment


@pytest.fixture
def three_then_one_every_two_seconds(settings):
    settings.CHATDESK_API_RATE = "30/min"
    settings.CHATDESK_API_BURST = 3


def api(method, path, body, key="key-demo-store"):
    return getattr(Client(), method)(path, data=json.dumps(body), content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {key}")


def put_cart(token="abc", key="key-demo-store", body=CART):
    return api("put", f"/api/v1/carts/{token}/", body, key)


# --- the bucket ---------------------------------------------------------------------------------------

def test_the_rate_and_burst_settings_are_read_as_a_bucket():
    assert parse_limit("600/min", 100) == Limit(interval_ms=100, burst=100)
    assert parse_limit("10/s", "20") == Limit(interval_ms=100, burst=20)
    assert parse_limit("36000/hour", 5).per_minute == 600
    assert parse_limit("off", 100) is None and parse_limit("0", 100) is None and parse_limit("", 1) is None
    for bad_rate, bad_burst in [("600 per minute", 100), ("600/fortnight", 100), ("-5/min", 100), ("600/min", 0)]:
        with pytest.raises(ImproperlyConfigured):
            parse_limit(bad_rate, bad_burst)


def test_a_bucket_takes_a_burst_then_refills_at_the_rate():
    limit = Limit(interval_ms=2000, burst=3)
    full_at, t = None, 0
    for _ in range(3):
        decision, full_at = gcra(full_at, t, limit)
        assert decision.allowed
    refused, unchanged = gcra(full_at, t, limit)
    assert not refused.allowed and unchanged is None and refused.retry_after_ms == 2000
    assert not gcra(full_at, t + 1999, limit)[0].allowed
    decision, full_at = gcra(full_at, t + 2000, limit)
    assert decision.allowed
    # A client paced exactly at the rate is never refused.
    for step in range(1, 50):
        decision, full_at = gcra(full_at, t + 2000 + step * 2000, limit)
        assert decision.allowed


# --- the API --------------------------------------------------------------------------------------------

def test_over_the_limit_a_request_gets_429_with_retry_after_and_stores_nothing(
        site, now, three_then_one_every_two_seconds):
    assert [put_cart().status_code for _ in range(3)] == [201, 200, 200]
    before = row_counts()
    for refused in (put_cart(), api("post", "/api/v1/orders/", ORDER), put_cart(body={"total": 1})):
        assert refused.status_code == 429, refused.content
        assert refused["Retry-After"] == "2"
        body = refused.json()
        assert body["code"] == "rate_limited" and "30 per minute, bursts of 3" in body["detail"]
        assert "retry in 2 s" in body["detail"]
    assert diff_counts(before, row_counts()) == {}
    assert not Order.objects.exists()


def test_another_key_is_not_affected(site, now, three_then_one_every_two_seconds):
    refill(make_site("other-store").pk)
    for _ in range(3):
        put_cart()
    assert put_cart().status_code == 429
    assert put_cart(key="key-other-store").status_code == 201
    assert [put_cart(key="key-other-store").status_code for _ in range(3)] == [200, 200, 429]


def test_after_retry_after_the_key_gets_through_again(site, now, three_then_one_every_two_seconds):
    for _ in range(3):
        put_cart()
    wait = int(put_cart()["Retry-After"])
    now[0] += wait - 0.5
    assert put_cart().status_code == 429
    now[0] += 0.5
    assert put_cart().status_code == 200
    # Then one every two seconds, forever; a full pause refills the whole burst.
    for _ in range(5):
        now[0] += 2
        assert put_cart().status_code == 200
    now[0] += 60
    assert [put_cart().status_code for _ in range(4)] == [200, 200, 200, 429]


def test_requests_without_a_valid_key_count_for_nobody(site, now, three_then_one_every_two_seconds):
    for _ in range(10):
        assert put_cart(key="wrong-key-123").status_code == 401
    assert put_cart().status_code == 201


def test_a_refused_body_still_counts_and_the_default_is_generous(site, now, settings):
    settings.CHATDESK_API_RATE, settings.CHATDESK_API_BURST = "600/min", 100
    assert all(put_cart(body={"total": 1}).status_code == 400 for _ in range(100))
    assert put_cart().status_code == 429
    now[0] += 0.1
    assert put_cart().status_code == 201


def test_off_turns_the_limit_off(site, now, settings):
    settings.CHATDESK_API_RATE = "off"
    assert all(put_cart().status_code in (200, 201) for _ in range(150))


def test_the_limit_fails_open_when_the_cache_is_down(site, now, three_then_one_every_two_seconds, monkeypatch,
                                                     caplog):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(throttle, "take", down)
    assert all(put_cart().status_code in (200, 201) for _ in range(5))
    assert "rate limit not enforced" in caplog.text


@pytest.mark.skipif(not ON_REDIS, reason="needs REDIS_URL: processes share the bucket through Redis")
def test_processes_share_one_bucket_through_redis(settings):
    """Two cache objects with their own connections stand for two Daphne processes."""
    import uuid

    from django.core.cache.backends.redis import RedisCache

    params = {"KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"]}
    first, second = RedisCache(settings.REDIS_URL, params), RedisCache(settings.REDIS_URL, params)
    assert first._cache is not second._cache
    # The configured cache takes the same atomic path (a Lua script), not the one-process fallback.
    assert throttle._redis_client(caches["default"]) is not None
    limit, key, t = Limit(interval_ms=1000, burst=4), f"test-{uuid.uuid4().hex}", 1_800_000_000.0
    taken = [take(key, limit, t, cache) for cache in (first, second, first, second, first)]
    assert [d.allowed for d in taken] == [True, True, True, True, False]
    assert taken[-1].retry_after_ms == 1000
    assert take(key, limit, t + 1, second).allowed
    first.delete(f"api-bucket:{key}")
