"""`/ws/floor/`: the live floor for supervisors, pushed when the queue or an agent changes.

The socket joins the same per-site agent groups the consoles use, so it
hears every `queue`, `conversation` and `agent` frame the actions emit; it
answers each burst with one fresh snapshot from the database (debounced),
and sends one every TICK_SECONDS anyway, because presence can lapse with no
event. It never takes frames from the client except `refresh`.
"""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from ..events import encode, site_agents_group
from ..models import Site
from ..permissions import is_supervisor
from .floor import floor_snapshot

REFRESH_ON = {"queue", "conversation", "agent", "presence"}


def _allowed_sites(user, site_key: str):
    """(allowed, site ids in scope): all sites without a key; None when the user may not watch."""
    if not is_supervisor(user):
        return False, []
    sites = Site.objects.all()
    if site_key:
        sites = sites.filter(key=site_key)
        if not sites.exists():
            return False, []
    return True, list(sites.values_list("pk", flat=True))


def _snapshot(site_ids, whole_floor: bool):
    return floor_snapshot(None if whole_floor else site_ids)


class FloorConsumer(AsyncWebsocketConsumer):
    DEBOUNCE_SECONDS = 0.4
    TICK_SECONDS = 10.0

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        site_key = (query.get("site") or [""])[0]
        allowed, self.site_ids = await database_sync_to_async(_allowed_sites)(self.scope.get("user"), site_key)
        self.whole_floor = not site_key
        self.groups_joined = []
        self.pending = None
        self.ticker = None
        if not allowed:
            await self.close()  # before accept: HTTP 403
            return
        for site_id in self.site_ids:
            group = site_agents_group(site_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        await self.send_snapshot()
        self.ticker = asyncio.ensure_future(self._tick())

    async def disconnect(self, code):
        for task in (getattr(self, "pending", None), getattr(self, "ticker", None)):
            if task is not None:
                task.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = orjson.loads(text_data or b"")
        except orjson.JSONDecodeError:
            frame = None
        if isinstance(frame, dict) and frame.get("type") == "refresh":
            await self.send_snapshot()
        else:
            await self.send(text_data=encode({"type": "error", "code": "unknown_frame",
                                              "detail": "this socket only accepts {\"type\": \"refresh\"}"}))

    async def chat_frame(self, event):
        """A frame meant for consoles: refresh the floor if it changed the queue or an agent."""
        try:
            kind = orjson.loads(event["text"]).get("type")
        except (orjson.JSONDecodeError, AttributeError, KeyError):
            return
        if kind in REFRESH_ON and self.pending is None:
            self.pending = asyncio.ensure_future(self._refresh_soon())

    async def _refresh_soon(self):
        await asyncio.sleep(self.DEBOUNCE_SECONDS)  # one snapshot for a burst of frames
        self.pending = None
        await self.send_snapshot()

    async def _tick(self):
        while True:
            await asyncio.sleep(self.TICK_SECONDS)
            await self.send_snapshot()

    async def send_snapshot(self):
        snapshot = await database_sync_to_async(_snapshot)(self.site_ids, self.whole_floor)
        await self.send(text_data=encode(snapshot))
