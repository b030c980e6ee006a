"""What both websocket doors share: size and rate limits, frame parsing, errors, publishing after commit."""
from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections

from . import events
from .errors import ActionError
from .frames import MAX_FRAME_BYTES, decode, parse_frame

log = logging.getLogger(__name__)


class TokenBucket:
    """Allows `rate` frames a second sustained with bursts of `burst`."""

    def __init__(self, rate: float = 10.0, burst: float = 20.0, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
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

_db_call = database_sync_to_async(_run_collecting_safely)


class FrameConsumer(AsyncWebsocketConsumer):
    """Base door: parse, limit, dispatch to `frame_<type>`, turn refusals into `error` frames."""

    frame_table: dict = {}
    rate = 10.0
    burst = 20.0

    async def websocket_connect(self, message):
        self.bucket = TokenBucket(self.rate, self.burst)
        await super().websocket_connect(message)

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=events.encode(frame))

    async def send_error(self, err: ActionError, client_id=None) -> None:
        await self.send_frame(err.frame(client_id))

    async def run(self, fn, *args, **kwargs):
        """Run a domain action in a worker thread, then publish what it emitted (after its commit)."""
        result, emitted = await _db_call(fn, args, kwargs)
        if emitted:
            await self.publish(emitted)
        return result

    async def publish(self, emitted) -> None:
        """Send committed events in the order emitted; one event for each of several groups (a chat message) goes out in parallel."""
        layer = self.channel_layer
        by_group: dict[str, list[dict]] = {}
        for group, event in emitted:
            if event.get("skip_origin"):
                event = {**event, "skip": self.channel_name}
            by_group.setdefault(group, []).append(event)

        async def send_in_order(group, group_events):
            for event in group_events:
                await layer.group_send(group, event)

        if len(by_group) > 1 and len(by_group) == len(emitted):
            # Different groups reach different sockets (shopper, agent): no order between them to keep.
            await asyncio.gather(*(send_in_order(g, evs) for g, evs in by_group.items()))
        else:
            for group, event in emitted:
                if event.get("skip_origin"):
                    event = {**event, "skip": self.channel_name}
                await layer.group_send(group, event)

    async def chat_frame(self, event):
        if event.get("skip") == self.channel_name:
            return
        await self.send(text_data=event["text"])

    async def receive(self, text_data=None, bytes_data=None):
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_FRAME_BYTES:
            await self.close(code=1009)
            return
        client_id = None
        try:
            if not self.bucket.take():
                raise ActionError("rate_limited", "too many frames: at most 10 a second (bursts of 20)")
            data = decode(text_data)
            client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
            frame = parse_frame(data, self.frame_table)
            handler = getattr(self, "frame_" + frame["type"])
            await handler(frame)
        except ActionError as err:
            await self.send_error(err, client_id)
        except (OperationalError, InterfaceError, OSError) as exc:
            log.warning("database unavailable while handling a frame: %s", exc)
            await self.send_error(
                ActionError("unavailable", "the server could not store this right now; retry with the same client_id"),
                client_id,
            )
        except Exception:  # a bug must cost one frame, not the shopper's socket
            log.exception("unexpected error while handling a frame")
            await self.send_error(ActionError("internal", "the server failed to handle this frame"), client_id)
