"""Requests per site API key: a token bucket kept in Django's cache, so that every Daphne process shares it.

`CHATDESK_API_RATE` (default 600/min) refills the bucket and
`CHATDESK_API_BURST` (default 100) is its size: a key may send 100 requests
at once, then 10 a second for as long as it likes. The bucket is stored as
one number, the time at which it will be full again (GCRA, the "generic cell
rate algorithm" of ATM networks and of redis-cell): a request fits when that
time is at most BURST intervals ahead of now, and pushes it one interval on.

With Redis (production) the check and the update are one Lua script, atomic
across processes; without Redis there is one process, and a lock suffices.
The count is per key, not per client address: a store's servers may sit
behind many addresses, and many stores behind one. A refused request costs
nothing, so a client that waits as `Retry-After` says gets through. Like the
socket connection cap, the limit fails open: if the cache cannot be reached
the request is let in and a warning logged, because refusing every store
while Redis restarts would be worse than counting nobody for a moment.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True)
class Limit:
    interval_ms: int  # one request's worth of refill
    burst: int  # the bucket's size

    @property
    def per_minute(self) -> float:
        return 60_000 / self.interval_ms


def parse_limit(rate: str | None, burst) -> Limit | None:
    """'600/min' with burst 100 as Limit(100 ms, 100); a rate of '', '0' or 'off' turns the limit off (None)."""
    text = (rate or "").strip().lower()
    if text in ("", "0", "off", "none"):
        return None
    count, _, period = text.partition("/")
    try:
        per_second = int(count) / PERIODS[period.strip() or "s"]
        burst = int(burst)
    except (ValueError, KeyError, TypeError):
        raise ImproperlyConfigured(f"CHATDESK_API_RATE must look like 600/min (or 10/s, 36000/hour), not {rate!r}, "
                                   f"and CHATDESK_API_BURST be a whole number, not {burst!r}") from None
    if per_second <= 0 or burst < 1:
        raise ImproperlyConfigured("CHATDESK_API_RATE and CHATDESK_API_BURST must be positive")
    return Limit(interval_ms=max(1, round(1000 / per_second)), burst=burst)


def configured_limit() -> Limit | None:
    return parse_limit(getattr(settings, "CHATDESK_API_RATE", ""), getattr(settings, "CHATDESK_API_BURST", 1))


def clock() -> float:
    """Seconds since the epoch; tests replace it to move time."""
    return time.time()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_ms: int = 0  # until one more request fits, when refused

    @property
    def retry_after(self) -> int:
        """Whole seconds, as the Retry-After header wants them (at least 1)."""
        return max(1, math.ceil(self.retry_after_ms / 1000))


def gcra(full_at: int | None, now: int, limit: Limit) -> tuple[Decision, int | None]:
    """One request at `now` (ms) against a bucket full again at `full_at`: (decision, the new `full_at` to store)."""
    start = max(full_at or now, now)
    after = start + limit.interval_ms
    over = after - now - limit.interval_ms * limit.burst
    if over > 0:
        return Decision(False, over), None
    return Decision(True), after


# The same arithmetic as `gcra`, run inside Redis so that no other process can interleave.
GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
local full_at = tonumber(redis.call('GET', KEYS[1]))
if full_at == nil or full_at < now then full_at = now end
local after = full_at + interval
local over = after - now - size
if over > 0 then return over end
redis.call('SET', KEYS[1], after, 'PX', after - now)
return 0
"""

_lock = threading.Lock()


def _redis_client(cache):
    """The redis-py client behind Django's RedisCache (its `_cache`, stable since Django 4.0), or None."""
    from django.core.cache.backends.redis import RedisCache

    inner = getattr(cache, "_cache", None) if isinstance(cache, RedisCache) else None
    return inner.get_client(write=True) if hasattr(inner, "get_client") else None


def take(key_id, limit: Limit, now: float, cache=None) -> Decision:
    """Take one request for `key_id` at `now` (seconds) from its bucket; a refused request takes nothing."""
    cache = cache or caches["default"]
    key = f"api-bucket:{key_id}"
    now_ms = int(now * 1000)
    client = _redis_client(cache)
    if client is not None:
        # Under the cache's own prefix (make_key), as Django would store it.
        over = int(client.eval(GCRA_LUA, 1, cache.make_key(key), now_ms, limit.interval_ms,
                               limit.interval_ms * limit.burst))
        return Decision(over <= 0, max(over, 0))
    # One process (the in-memory cache): a lock makes the read and the write one step.
    with _lock:
        decision, full_at = gcra(cache.get(key), now_ms, limit)
        if full_at is not None:
            cache.set(key, full_at, timeout=math.ceil((full_at - now_ms) / 1000) + 1)
    return decision


def refill(key_id, cache=None) -> None:
    """Fill `key_id`'s bucket at once (an operator lifting a limit by hand, a test starting clean)."""
    (cache or caches["default"]).delete(f"api-bucket:{key_id}")


class SiteKeyRateThrottle(BaseThrottle):
    """DRF's door to `take`, keyed by the authenticated site (a site has one API key)."""

    def allow_request(self, request, view):
        limit = configured_limit()
        site = getattr(request.user, "site", None)
        if limit is None or site is None:
            return True
        try:
            decision = take(site.pk, limit, clock())
        except Exception as exc:  # the cache (Redis) is down: fail open, see the module docstring
            log.warning("API rate limit not enforced (cache unavailable): %s", exc)
            return True
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self):
        return getattr(self, "retry_after", None)
