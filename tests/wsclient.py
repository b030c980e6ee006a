"""A small protocol client over real sockets (the `websockets` library), for process-level tests."""
from __future__ import annotations

import asyncio
import json

import websockets


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.inbox: list[dict] = []

    @classmethod
    async def connect(cls, url: str, origin: str = "http://localhost:8000", cookie: str | None = None) -> "Client":
        headers = {"Cookie": cookie} if cookie else {}
        ws = await websockets.connect(url, origin=origin, additional_headers=headers, open_timeout=10)
        return cls(ws)

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(self, ftype: str, timeout: float = 5, **match) -> dict:
        for i, frame in enumerate(self.inbox):
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return self.inbox.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {ftype} frame matching {match}; inbox: {self.inbox[-5:]}")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self.inbox.append(frame)

    async def close(self) -> None:
        await self.ws.close()
