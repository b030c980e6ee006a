"""The floor for any chat on this stack: a Channels consumer that only forwards each frame to a group.

Served by the same processes as ChatDesk (this module's `application` is
ChatDesk's ASGI app plus `/ws/relay/`), so both run on the same server, channel
layer and settings. A socket joins the rooms named in its query string
(`?rooms=3,4`); a frame `{"room": 3, ...}` is forwarded verbatim to every
other member of room 3. No database, no validation beyond finding the room.
"""
from __future__ import annotations

import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.settings")

import orjson  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from chatdesk.asgi import django_asgi_app  # noqa: E402  (sets Django up)
from chatdesk.asgi import application as chatdesk_application  # noqa: E402
from chatdesk.sockets import DirectDispatch  # noqa: E402


def room_group(room) -> str:
    return f"relay.{room}"


class RelayConsumer(DirectDispatch, AsyncWebsocketConsumer):
    # DirectDispatch: like ChatDesk's consumers, no per-event thread hop (the relay has no database at all).

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.rooms = [r for r in (query.get("rooms", [""])[0]).split(",") if r]
        for room in self.rooms:
            await self.channel_layer.group_add(room_group(room), self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for room in getattr(self, "rooms", []):
            await self.channel_layer.group_discard(room_group(room), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        room = orjson.loads(text_data).get("room")
        # The same skip-the-sender rule as ChatDesk's broadcast copy.
        await self.channel_layer.group_send(
            room_group(room), {"type": "relay.frame", "text": text_data, "skip": self.channel_name}
        )

    async def relay_frame(self, event):
        if event["skip"] != self.channel_name:
            await self.send(text_data=event["text"])


class _Router:
    """ChatDesk's websocket routes plus the relay's, HTTP untouched."""

    def __init__(self):
        self.relay = URLRouter([path("ws/relay/", RelayConsumer.as_asgi())])

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and scope["path"].startswith("/ws/relay/"):
            return await self.relay(scope, receive, send)
        return await chatdesk_application(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": _Router()})
