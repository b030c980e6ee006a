"""Shoppers and agents that behave as the real clients must when things break, for fault tests.

A peer keeps what it has been told by `seq`, reconnects to whichever server
is still up when its socket dies, resumes from the highest seq up to which
it has every message, and sends again, with the same client_id, every
message that has no ack yet. Tests then compare what each peer saw and what
was acknowledged with the rows in the database.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random

import websockets

ORIGIN = "http://localhost:8000"


class Peer:
    kind = "peer"

    def __init__(self, name: str, servers, cookie: str | None = None):
        self.name = name
        self.servers = servers  # callable -> list of base ws urls to try, in order
        self.cookie = cookie
        self.ws = None
        self.seen: dict[int, dict[int, dict]] = {}  # conversation -> seq -> message
        self.acked: dict[str, dict] = {}
        self.pending: dict[str, dict] = {}  # client_id -> frame, sent but not acknowledged
        self.errors: list[dict] = []
        self.wire_duplicates = 0
        self.connections = 0
        self._socket_seen: set = set()
        self._ids = itertools.count(1)
        self._reader: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.watching: set[int] = set()
        self.replaying: set[int] = set()  # conversations whose console `sync` replay is under way  # conversations whose every message this peer must end up seeing

    # -- what the test drives -------------------------------------------------
    async def start(self):
        await self._connect()
        self._reader = asyncio.create_task(self._run())
        return self

    async def stop(self):
        self._stopping = True
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        if self.ws is not None:
            await self.ws.close()

    def new_client_id(self) -> str:
        return f"{self.name}-{next(self._ids)}"

    async def send_tracked(self, frame: dict) -> str:
        """Send a frame that expects an ack; it is resent after reconnects until acknowledged."""
        self.pending[frame["client_id"]] = frame
        await self._send(frame)
        return frame["client_id"]

    async def settle(self, timeout: float = 15) -> None:
        """Wait until every tracked frame is acknowledged, resending (same client_id) those still without an ack."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_sent = loop.time()
        while self.pending:
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: never acknowledged {sorted(self.pending)}")
            await asyncio.sleep(0.02)
            # A refusal (`unavailable`, `rate_limited`) or a lost socket leaves frames pending.
            if loop.time() - last_sent > 0.5 and self._connected.is_set():
                last_sent = loop.time()
                for frame in list(self.pending.values()):
                    await self._send(frame)

    def contiguous(self, conversation_id: int) -> int:
        seqs = self.seen.get(conversation_id, {})
        n = 0
        while n + 1 in seqs:
            n += 1
        return n

    # -- plumbing -------------------------------------------------------------
    async def _send(self, frame: dict) -> None:
        if self.ws is None or not self._connected.is_set():
            return  # sent again after the reconnect
        try:
            await self.ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            pass

    async def _connect(self, deadline: float = 20) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        delay = 0.05
        while True:
            for base in self.servers():
                try:
                    headers = {"Cookie": self.cookie} if self.cookie else {}
                    self.ws = await websockets.connect(
                        base + self.path, origin=ORIGIN, additional_headers=headers, open_timeout=3,
                        max_size=2**22,
                    )
                    self.connections += 1
                    self._socket_seen = set()
                    self.replaying = set()
                    if await self._handshake():
                        self._connected.set()
                        for frame in list(self.pending.values()):
                            await self._send(frame)
                        return
                except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed, asyncio.TimeoutError):
                    pass
            if loop.time() > end:
                raise AssertionError(f"{self.name}: could not reconnect to any server")
            await asyncio.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 0.5)

    async def _recv_json(self, timeout: float = 5) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def _run(self) -> None:
        while not self._stopping:
            try:
                frame = json.loads(await self.ws.recv())
            except websockets.ConnectionClosed:
                self._connected.clear()
                if self._stopping:
                    return
                await self._connect()
                continue
            self._handle(frame)

    def _record(self, message: dict, live: bool = False) -> None:
        # A resync answers a request and may repeat what the socket had; a
        # live copy of something the socket already has is a doubled message.
        key = (message["conversation_id"], message["seq"])
        if live and key in self._socket_seen:
            self.wire_duplicates += 1
        self._socket_seen.add(key)
        known = self.seen.setdefault(message["conversation_id"], {}).get(message["seq"])
        # The same seq must always be the same message, whoever sends it again.
        assert known is None or known["id"] == message["id"], (self.name, known, message)
        self.seen[message["conversation_id"]][message["seq"]] = message

    def _handle(self, frame: dict) -> None:
        ftype = frame.get("type")
        if ftype == "message":
            conv_id = frame["message"]["conversation_id"]
            self._record(frame["message"], live=conv_id not in self.replaying)
        elif ftype == "synced" and "conversation_id" in frame:
            self.replaying.discard(frame["conversation_id"])
        elif ftype == "ack" and "message" in frame:
            self._record(frame["message"])
            self.acked[frame["client_id"]] = frame["message"]
            self.pending.pop(frame["client_id"], None)
        if ftype in ("welcome", "synced", "detail"):
            for m in frame.get("messages", []):
                self._record(m)
        elif ftype == "error":
            self.errors.append(frame)
        self.inbox.put_nowait(frame)

    def clear_inbox(self) -> None:
        while not self.inbox.empty():
            self.inbox.get_nowait()

    async def expect(self, ftype: str, timeout: float = 5, **match) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await asyncio.wait_for(self.inbox.get(), max(0.01, deadline - loop.time()))
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return frame


class Shopper(Peer):
    kind = "shopper"
    path = "/ws/widget/demo-store/"

    def __init__(self, name, servers):
        super().__init__(name, servers)
        self.token = None
        self.conversation_id = None

    async def _handshake(self) -> bool:
        last = self.contiguous(self.conversation_id) if self.conversation_id else 0
        await self.ws.send(json.dumps({"type": "hello", "visitor_token": self.token, "last_seq": last}))
        while True:
            frame = await self._recv_json()
            if frame.get("type") == "welcome":
                self.token = frame["visitor_token"]
                if frame.get("conversation"):
                    self.conversation_id = frame["conversation"]["id"]
                self._handle(frame)
                return True
            if frame.get("type") == "error":
                self.errors.append(frame)
                return False

    async def say(self, text: str) -> str:
        return await self.send_tracked({"type": "message", "client_id": self.new_client_id(), "text": text})


class Agent(Peer):
    kind = "agent"
    path = "/ws/console/"

    def __init__(self, name, servers, cookie):
        super().__init__(name, servers, cookie)
        self.conversations: set[int] = set()

    async def _handshake(self) -> bool:
        while True:
            frame = await self._recv_json()
            if frame.get("type") == "state":
                self.conversations |= {c["id"] for c in frame["conversations"]}
                self._handle(frame)
                break
            if frame.get("type") == "error":
                self.errors.append(frame)
                return False
        for conv_id in sorted(self.conversations):
            self.replaying.add(conv_id)
            await self.ws.send(json.dumps({"type": "sync", "conversation_id": conv_id,
                                           "last_seq": self.contiguous(conv_id)}))
        return True

    async def claim(self, conversation_id: int) -> None:
        await self._send({"type": "claim", "conversation_id": conversation_id})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while loop.time() < deadline:
            frame = await asyncio.wait_for(self.inbox.get(), deadline - loop.time())
            if frame.get("type") == "detail" and frame["conversation"]["id"] == conversation_id:
                self.conversations.add(conversation_id)
                return
            if frame.get("type") == "error":
                raise AssertionError(f"{self.name} could not claim {conversation_id}: {frame}")
        raise AssertionError(f"{self.name}: no detail for {conversation_id}")

    async def say(self, conversation_id: int, text: str) -> str:
        return await self.send_tracked({"type": "message", "conversation_id": conversation_id,
                                        "client_id": self.new_client_id(), "text": text})
