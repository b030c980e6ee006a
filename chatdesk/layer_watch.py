"""Notice when the channel layer may have lost events, and make this process's sockets resync.

channels_redis keeps group memberships and undelivered events in Redis. When
Redis restarts (a new `run_id`) they are gone: a socket that survived the
outage is in no group any more and would wait forever for messages it will
never get. And when any process failed to publish an event (Redis briefly
unreachable), some sockets missed it without knowing. In both cases the
database still holds everything, so the cure is the same as after a crash:
close the sockets with 4012 (chatdesk.sockets.CLOSE_RESYNC); clients
reconnect and resync by `seq`.

A process that failed to publish bumps a shared counter once Redis answers
again, so that every process (not only the one that noticed) resyncs its
sockets. Each process checks `(run_id, counter)` every few seconds.
"""
from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from chatdesk.periodic import repeat

log = logging.getLogger(__name__)

RESYNC_CLOSE_CODE = 4012  # chatdesk.sockets.CLOSE_RESYNC (not imported: sockets imports this module)


class LayerWatch:
    def __init__(self, url: str, prefix: str, interval: float):
        self.url, self.prefix, self.interval = url, prefix, interval
        self.consumers: weakref.WeakSet = weakref.WeakSet()
        self.epoch = None
        self.publish_failed = False
        self.unreachable = False
        self._tasks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def gap_key(self) -> str:
        return f"{self.prefix}:layer-gaps"

    def _client(self):
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            self._clients[loop] = client
        return client

    def register(self, consumer) -> None:
        self.consumers.add(consumer)
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._watch_forever())

    def unregister(self, consumer) -> None:
        self.consumers.discard(consumer)

    def note_publish_failure(self) -> None:
        self.publish_failed = True

    async def _read_epoch(self):
        client = self._client()
        info = await client.info("server")
        gaps = await client.get(self.gap_key)
        return info.get("run_id"), gaps

    async def check_once(self) -> bool:
        """One look at Redis; returns True when this process's sockets were told to resync."""
        try:
            if self.publish_failed:
                # Redis answers again: tell every process (ourselves included) that events were lost.
                await self._client().incr(self.gap_key)
                self.publish_failed = False
            epoch = await self._read_epoch()
        except Exception as exc:
            if not self.unreachable:
                log.warning("channel layer unreachable: %s", exc)
            self.unreachable = True
            return False
        changed = self.epoch is not None and epoch != self.epoch
        self.epoch = epoch
        if self.unreachable:
            log.warning("channel layer reachable again")
        # Unreachable for a while without a restart: our own sockets may still have missed events.
        changed = changed or self.unreachable
        self.unreachable = False
        if changed:
            await self.resync_all()
        return changed

    async def resync_all(self) -> None:
        consumers = list(self.consumers)
        if consumers:
            log.warning("channel layer lost events: closing %d sockets so that they resync", len(consumers))
        for consumer in consumers:
            try:
                await consumer.close(code=RESYNC_CLOSE_CODE)
            except Exception:  # one broken socket must not keep the others from resyncing
                log.exception("could not close a socket for resync")

    async def _watch_forever(self) -> None:
        await repeat(self.interval, self.check_once)


_watch: LayerWatch | None = None


def layer_watch() -> LayerWatch | None:
    """The process's watch, or None without Redis (the in-memory layer cannot lose events)."""
    global _watch
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    if _watch is None:
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "chatdesk")
        interval = float(getattr(settings, "CHATDESK_LAYER_WATCH_SECONDS", 2.0))
        _watch = LayerWatch(url, prefix, interval)
    return _watch
