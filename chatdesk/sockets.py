"""What both websocket doors share: size and rate limits, frame parsing, errors, publishing after commit."""
from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection
from redis.exceptions import RedisError

from . import events
from .errors import ActionError
from .frames import MAX_FRAME_BYTES, decode, parse_frame
from .layer_watch import layer_watch
from .layers import coalesce

log = logging.getLogger(__name__)


class TokenBucket:
    """Allows `rate` frames a second sustained with bursts of `burst`."""

    def __init__(self, rate: float = 10.0, burst: float = 20.0, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def take(self, now: float | None = None) -> bool:
        """Spend a token for a frame that arrived at `now` (default: the clock's now)."""
        now = max(self.stamp, self.clock() if now is None else now)
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1 - 1e-9:  # float steps of 0.1 s must not lose a token
            self.tokens -= 1
            return True
        return False


def _run_collecting(fn, args, kwargs):
    with events.collecting() as bucket:
        result = fn(*args, **kwargs)
    return result, bucket


def _run_collecting_safely(fn, args, kwargs):
    try:
        return _run_collecting(fn, args, kwargs)
    except (InterfaceError, DatabaseError):
        # A dropped connection must not poison the next frame on this thread.
        close_old_connections()
        raise

def _db_threads() -> int:
    # SQLite has one writer at a time: more threads would only queue on its lock.
    if connection.vendor == "sqlite":
        return 1
    return max(1, int(os.environ.get("CHATDESK_DB_THREADS", "8")))


_pool: ThreadPoolExecutor | None = None


def database_sync_to_async(fn):
    """Channels' `database_sync_to_async` on a small pool of threads instead of one per process.

    With one thread, every socket of a process waits for every other
    socket's transaction, commit flush included, in turn. On a pool, while
    one transaction waits for its commit to reach the disk the others run, and
    PostgreSQL flushes their commits together. Each socket still handles its
    frames one at a time, and row locks keep `seq` gap-free; each thread has
    its own connection (CHATDESK_DB_THREADS, default 8, per process).
    """
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_db_threads(), thread_name_prefix="chatdesk-db")
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=_pool)


_db_call = None


def _db():
    global _db_call
    if _db_call is None:
        _db_call = database_sync_to_async(_run_collecting_safely)
    return _db_call

# Close codes of our own (Daphne's autobahn lets an application use only 1000
# and 3000-4999): both mean "reconnect, then resync by seq".
CLOSE_RESYNC = 4012  # the channel layer lost events (see chatdesk.layer_watch)
CLOSE_TRY_LATER = 4013  # refused for now: too many connections, or a backing service is down

# Failures of a backing service (database, channel layer) rather than of the
# frame: the sender gets `unavailable` and retries with the same client_id.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, OSError, RedisError)


class DirectDispatch:
    """Dispatch each event straight to its handler, without Channels' thread hop before it.

    Channels 4.2+ runs `close_old_connections` in its sync thread before every
    event a consumer handles, websocket frames and layer events alike: a
    thread round trip per event, which the steady benchmark's profile put at a
    tenth of the event loop's busy time. These consumers never use the
    database on the event loop; their database calls go through
    DatabaseSyncToAsync, which closes stale connections in its own thread
    around every call.
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class FrameConsumer(DirectDispatch, AsyncWebsocketConsumer):
    """Base door: parse, limit, dispatch to `frame_<type>`, turn refusals into `error` frames."""

    frame_table: dict = {}
    rate = 10.0
    burst = 20.0
    # Count frames against the rate when they reach this process, not when this
    # socket gets round to them: frames that queued behind a slow action would
    # otherwise be read at once and refused as a burst the client never sent.
    # It costs a task per socket, so only doors with few sockets (the console) use it.
    count_at_arrival = False

    async def __call__(self, scope, receive, send):
        if not self.count_at_arrival:
            return await super().__call__(scope, receive, send)
        arrived: asyncio.Queue = asyncio.Queue()

        async def stamp():
            while True:
                message = await receive()
                message["arrived_at"] = time.monotonic()
                arrived.put_nowait(message)
                if message["type"] == "websocket.disconnect":
                    return

        reader = asyncio.ensure_future(stamp())
        try:
            return await super().__call__(scope, arrived.get, send)
        finally:
            reader.cancel()

    async def websocket_receive(self, message):
        self.arrived_at = message.get("arrived_at")
        await super().websocket_receive(message)

    async def websocket_connect(self, message):
        self.bucket = TokenBucket(self.rate, self.burst)
        # seqs already sent on this socket, per conversation: a message that
        # arrives both in a resync and live is sent once (see `chat_frame`).
        self.delivered: dict[int, set[int]] = {}
        await super().websocket_connect(message)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        watch = layer_watch()
        if watch is not None:
            watch.register(self)

    async def websocket_disconnect(self, message):
        watch = layer_watch()
        if watch is not None:
            watch.unregister(self)
        await super().websocket_disconnect(message)

    def mark_delivered(self, messages) -> None:
        """Remember the seqs of messages this socket has been sent (in a welcome, sync, detail or ack)."""
        for m in messages:
            self.delivered.setdefault(m["conversation_id"], set()).add(m["seq"])

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=events.encode(frame))

    async def send_error(self, err: ActionError, client_id=None) -> None:
        await self.send_frame(err.frame(client_id))

    async def run(self, fn, *args, **kwargs):
        """Run a domain action in a worker thread, then publish what it emitted (after its commit)."""
        result, emitted = await self.run_unpublished(fn, *args, **kwargs)
        if emitted:
            await self.publish(emitted)
        return result

    async def run_on_loop_or(self, on_loop, in_thread, *args):
        """Try `on_loop(*args)` on the event loop; when it returns None, run `in_thread(*args)` as `run` does.

        `on_loop` returns (result, events) and `in_thread` (result, created):
        either way the events are published after the commit and `result` is returned.
        """
        done = await on_loop(*args)
        if done is None:
            return (await self.run(in_thread, *args))[0]
        result, emitted = done
        await self.publish(emitted)
        return result

    async def run_unpublished(self, fn, *args, **kwargs):
        """Run a domain action in a worker thread; return (result, events) for the caller to publish after its reply."""
        return await _db()(fn, args, kwargs)

    async def publish(self, emitted) -> None:
        """Send committed events in the order emitted, best effort; events for different groups go out in parallel.

        The change is committed: a layer failure must not withhold the sender's
        ack (it would retry a stored message). Whoever misses an event resyncs
        by seq; every process resyncs its sockets once the layer is back
        (chatdesk.layer_watch). One event for several groups (`emit_to`) is
        one send.
        """
        layer = self.channel_layer
        batches = []
        for groups, event in coalesce(emitted):
            if event.get("skip_origin"):
                event = {**event, "skip": self.channel_name}
            batches.append((groups, event))

        named = [g for groups, _ in batches for g in groups]
        if len(batches) > 1 and len(set(named)) == len(named):
            # Different groups reach different sockets (shopper, agent): no order between them to keep.
            await asyncio.gather(*(events.send_best_effort(layer, groups, event) for groups, event in batches))
        else:
            for groups, event in batches:
                await events.send_best_effort(layer, groups, event)

    async def chat_frame(self, event):
        if event.get("skip") == self.channel_name:
            return
        seq = event.get("seq")
        if seq is not None:
            seen = self.delivered.setdefault(event.get("conversation_id"), set())
            if seq in seen:
                return
            seen.add(seq)
        await self.send(text_data=event["text"])

    async def receive(self, text_data=None, bytes_data=None):
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_FRAME_BYTES:
            await self.close(code=1009)
            return
        client_id = None
        try:
            if not self.bucket.take(getattr(self, "arrived_at", None)):
                raise ActionError("rate_limited",
                                  f"too many frames: at most {self.rate:g} a second (bursts of {self.burst:g})")
            data = decode(text_data)
            client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
            frame = parse_frame(data, self.frame_table)
            handler = getattr(self, "frame_" + frame["type"])
            await handler(frame)
        except ActionError as err:
            await self.send_error(err, client_id)
        except UNAVAILABLE_ERRORS as exc:
            log.warning("a backing service is unavailable while handling a frame: %s", exc)
            await self.send_error(
                ActionError("unavailable", "the server could not store this right now; retry with the same client_id"),
                client_id,
            )
        except Exception:  # a bug must cost one frame, not the shopper's socket
            log.exception("unexpected error while handling a frame")
            await self.send_error(ActionError("internal", "the server failed to handle this frame"), client_id)
