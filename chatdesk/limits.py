"""Per-address caps on open widget sockets, shared by every Daphne process through Redis.

Each open socket is one member of a Redis sorted set per client address,
scored by when it expires. A live process refreshes its members well before
they expire, so a process that dies (SIGKILL, OOM) stops holding its
shoppers' slots a couple of minutes later without anyone cleaning up after
it. Without Redis there is one process, and a plain counter suffices.

The cap fails open: if Redis cannot be reached a shopper is let in (and a
warning logged), because a checkout chat that refuses everyone while Redis
restarts is worse than one that briefly counts nobody.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections import Counter

from django.conf import settings

from chatdesk.periodic import repeat

log = logging.getLogger(__name__)

# How long a slot lives without a refresh, and how often live processes refresh theirs.
SLOT_TTL_SECONDS = 90
REFRESH_SECONDS = 30


def client_address(scope) -> str:
    """The peer's address as Daphne reports it (the proxy's X-Forwarded-For with --proxy-headers)."""
    client = scope.get("client")
    if client and client[0]:
        return str(client[0])
    return "unknown"


class _MemoryBackend:
    """One process, no Redis: count slots in a dict."""

    def __init__(self):
        self.counts: Counter = Counter()

    async def acquire(self, address: str, slot: str, limit: int) -> bool:
        if self.counts[address] >= limit:
            return False
        self.counts[address] += 1
        return True

    async def release(self, address: str, slot: str) -> None:
        self.counts[address] -= 1
        if self.counts[address] <= 0:
            del self.counts[address]

    async def refresh(self, slots: dict) -> None:
        return None


class _RedisBackend:
    """Slots as sorted-set members scored by their expiry; expired members are pruned on every acquire."""

    def __init__(self, url: str, prefix: str):
        self.url = url
        self.prefix = prefix
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _client(self):
        # A redis.asyncio client belongs to the event loop it was made on.
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            self._clients[loop] = client
        return client

    def key(self, address: str) -> str:
        return f"{self.prefix}:conns:{address}"

    async def acquire(self, address: str, slot: str, limit: int) -> bool:
        now = time.time()
        key = self.key(address)
        pipe = self._client().pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {slot: now + SLOT_TTL_SECONDS})
        pipe.zcard(key)
        pipe.expire(key, SLOT_TTL_SECONDS * 2)
        _, _, count, _ = await pipe.execute()
        if count > limit:
            await self._client().zrem(key, slot)
            return False
        return True

    async def release(self, address: str, slot: str) -> None:
        await self._client().zrem(self.key(address), slot)

    async def refresh(self, slots: dict) -> None:
        if not slots:
            return
        expiry = time.time() + SLOT_TTL_SECONDS
        pipe = self._client().pipeline(transaction=False)
        for slot, address in slots.items():
            # XX: never resurrect a slot its socket has already released.
            pipe.zadd(self.key(address), {slot: expiry}, xx=True)
            pipe.expire(self.key(address), SLOT_TTL_SECONDS * 2)
        await pipe.execute()


class AddressLimiter:
    """Caps concurrent sockets per client address; `acquire` returns a slot id, or None when over the cap."""

    def __init__(self, backend):
        self.backend = backend
        self.live: dict[str, str] = {}  # slot -> address, this process's open sockets
        self._refreshers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def limit(self) -> int:
        return int(getattr(settings, "CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS", 0) or 0)

    async def acquire(self, address: str) -> str | None:
        limit = self.limit
        slot = uuid.uuid4().hex
        if limit <= 0:
            return slot
        try:
            allowed = await self.backend.acquire(address, slot, limit)
        except Exception as exc:  # Redis down: fail open, see the module docstring
            log.warning("connection cap not enforced (store unavailable): %s", exc)
            return slot
        if not allowed:
            return None
        self.live[slot] = address
        self._ensure_refresher()
        return slot

    async def release(self, slot: str | None) -> None:
        address = self.live.pop(slot, None) if slot else None
        if address is None:
            return
        try:
            await self.backend.release(address, slot)
        except Exception as exc:
            log.warning("could not release a connection slot (it expires by itself): %s", exc)

    def _ensure_refresher(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._refreshers.get(loop)
        if task is None or task.done():
            self._refreshers[loop] = loop.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        await repeat(REFRESH_SECONDS, self._refresh_once, wait_first=True)

    async def _refresh_once(self) -> None:
        try:
            await self.backend.refresh(dict(self.live))
        except Exception as exc:
            log.warning("could not refresh connection slots: %s", exc)


def _make_limiter() -> AddressLimiter:
    url = getattr(settings, "REDIS_URL", "")
    if url:
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "chatdesk")
        return AddressLimiter(_RedisBackend(url, prefix))
    return AddressLimiter(_MemoryBackend())


_limiter: AddressLimiter | None = None


def widget_limiter() -> AddressLimiter:
    global _limiter
    if _limiter is None:
        _limiter = _make_limiter()
    return _limiter
