"""Faults on purpose, with real processes: a Daphne SIGKILLed, Redis restarted, PostgreSQL refusing, a client that stops reading.

Each test drives shoppers and agents (tests/peers.py) that reconnect and
resync by seq as real clients must, then holds the product to its promise:
every acknowledged message is stored exactly once, seqs have no gaps, and
every participant ends up having seen exactly what is stored.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import struct
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from chatdesk.models import Conversation, Message

from .conftest import ON_POSTGRES, make_agent, make_site, session_cookie
from .peers import Agent, Shopper
from .servers import DaphneProcess, free_port, server_env

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


# -- helpers ------------------------------------------------------------------

def start_together(*servers: DaphneProcess) -> list[DaphneProcess]:
    """Start Daphne processes in parallel: each takes a few seconds to import Django."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(servers)) as pool:
        return list(pool.map(lambda s: s.start(), servers))


def alive_first(home, *others):
    """Server list for a peer: its home process first, then the others; dead ones are skipped."""
    def servers():
        return [p.ws_url for p in (home, *others) if p.proc is not None and p.proc.poll() is None]
    return servers


async def _people(*agent_names):
    site = await sync_to_async(make_site)()
    agents = []
    for name in agent_names:
        user = await sync_to_async(make_agent)(name, site, 10)
        agents.append((user, (await sync_to_async(session_cookie)(user)).decode()))
    return site, agents


def _ledger(conv_ids):
    rows = list(
        Message.objects.filter(conversation_id__in=conv_ids)
        .order_by("conversation_id", "seq").values("id", "conversation_id", "seq", "client_id", "text")
    )
    return rows


async def open_conversation(shopper: Shopper, text: str) -> int:
    cid = await shopper.say(text)
    await shopper.settle()
    conv_id = shopper.acked[cid]["conversation_id"]
    shopper.conversation_id = conv_id
    return conv_id


async def assert_ledger(peers, conv_ids, timeout: float = 10):
    """Stored == acknowledged, each once, seqs gap-free, and every peer's view converges on the store."""
    for p in peers:
        await p.settle()
    rows = await sync_to_async(_ledger)(conv_ids)
    by_conv: dict[int, list] = {}
    for r in rows:
        by_conv.setdefault(r["conversation_id"], []).append(r)
    for conv_id in conv_ids:
        seqs = [r["seq"] for r in by_conv.get(conv_id, [])]
        assert seqs == list(range(1, len(seqs) + 1)), f"conversation {conv_id}: seqs {seqs}"
    client_ids = [r["client_id"] for r in rows if r["client_id"]]
    assert len(client_ids) == len(set(client_ids)), "a client_id was stored twice"
    acked = {}
    for p in peers:
        acked.update(p.acked)
    stored = {r["client_id"]: r for r in rows if r["client_id"]}
    assert set(stored) == set(acked), (
        f"stored but never acknowledged: {sorted(set(stored) - set(acked))}; "
        f"acknowledged but not stored: {sorted(set(acked) - set(stored))}"
    )
    for cid, msg in acked.items():
        assert (stored[cid]["id"], stored[cid]["seq"]) == (msg["id"], msg["seq"]), cid

    # Every participant converges on exactly what is stored (by seq and id).
    truth = {c: {r["seq"]: r["id"] for r in by_conv.get(c, [])} for c in conv_ids}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        behind = []
        for p in peers:
            for conv_id in p.watching:
                view = {seq: m["id"] for seq, m in p.seen.get(conv_id, {}).items()}
                if view != truth[conv_id]:
                    missing = sorted(set(truth[conv_id]) - set(view))
                    behind.append(f"{p.name} conv {conv_id}: missing seqs {missing}, extra {sorted(set(view) - set(truth[conv_id]))}")
        if not behind:
            break
        if loop.time() > deadline:
            raise AssertionError("views never converged: " + "; ".join(behind))
        await asyncio.sleep(0.2)
    for p in peers:
        assert p.wire_duplicates == 0, f"{p.name} was sent the same message twice on one socket"
    return rows


async def chatter(peer, conv_id: int | None, count: int, tag: str):
    for i in range(count):
        if conv_id is None:
            await peer.say(f"{tag} {i}")
        else:
            await peer.say(conv_id, f"{tag} {i}")
        await asyncio.sleep(random.uniform(0.03, 0.1))


def _watch(peer, *conv_ids):
    peer.watching = set(conv_ids)
    return peer


# -- 1. a Daphne process SIGKILLed mid-conversation ---------------------------

async def test_sigkill_of_a_daphne_mid_conversation_loses_nothing_and_doubles_nothing(daphne_pair):
    a, b = daphne_pair
    _, [(alice_user, alice_cookie), (bob_user, bob_cookie)] = await _people("alice", "bob")

    shoppers = []
    for i, home in enumerate((a, a, b, b)):
        other = b if home is a else a
        shoppers.append(await Shopper(f"s{i}", alive_first(home, other)).start())
    convs = [await open_conversation(s, f"hello from s{i}") for i, s in enumerate(shoppers)]
    alice = await Agent("alice", alive_first(a, b), alice_cookie).start()
    bob = await Agent("bob", alive_first(b, a), bob_cookie).start()
    # Each agent talks with one shopper on its own process and one on the other.
    for conv_id in (convs[0], convs[2]):
        await alice.claim(conv_id)
    for conv_id in (convs[1], convs[3]):
        await bob.claim(conv_id)
    for s, c in zip(shoppers, convs):
        _watch(s, c)
    _watch(alice, convs[0], convs[2])
    _watch(bob, convs[1], convs[3])

    async def kill_a_mid_traffic():
        await asyncio.sleep(0.5)
        await asyncio.to_thread(a.kill)

    traffic = [chatter(s, None, 10, f"{s.name} says") for s in shoppers]
    traffic += [chatter(alice, convs[0], 8, "alice to s0"), chatter(alice, convs[2], 8, "alice to s2")]
    traffic += [chatter(bob, convs[1], 8, "bob to s1"), chatter(bob, convs[3], 8, "bob to s3")]
    await asyncio.gather(kill_a_mid_traffic(), *traffic)

    peers = [*shoppers, alice, bob]
    rows = await assert_ledger(peers, convs)
    assert len(rows) == 4 * (1 + 10) + 4 * 8
    # Everyone who was on A really did move to B.
    for p in (shoppers[0], shoppers[1], alice):
        assert p.connections >= 2, f"{p.name} never reconnected"
    assert b.proc.poll() is None
    for p in peers:
        await p.stop()


# -- 2. Redis restarts mid-conversation ---------------------------------------

class RedisServer:
    """Our own redis-server on a free port: the shared one on 6379 is never restarted."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.kill()


async def test_redis_restart_mid_conversation_conversations_carry_on_and_resync(transactional_db, own_redis):
    env = server_env(REDIS_URL=own_redis.url, CHATDESK_LAYER_PREFIX="faults", CHATDESK_LAYER_WATCH_SECONDS="0.3")
    a, b = start_together(DaphneProcess(free_port(), env), DaphneProcess(free_port(), env))
    try:
        _, [(alice_user, alice_cookie), (bob_user, bob_cookie)] = await _people("alice", "bob")
        s0 = await Shopper("s0", alive_first(a, b)).start()
        s1 = await Shopper("s1", alive_first(b, a)).start()
        c0 = await open_conversation(s0, "hello from s0")
        c1 = await open_conversation(s1, "hello from s1")
        alice = await Agent("alice", alive_first(b, a), alice_cookie).start()
        bob = await Agent("bob", alive_first(a, b), bob_cookie).start()
        await alice.claim(c0)
        await bob.claim(c1)
        _watch(s0, c0), _watch(s1, c1), _watch(alice, c0), _watch(bob, c1)
        peers = [s0, s1, alice, bob]

        # Warm up across the processes, then take Redis away while everyone keeps talking.
        await asyncio.gather(chatter(s0, None, 3, "before"), chatter(alice, c0, 3, "before"),
                             chatter(s1, None, 3, "before"), chatter(bob, c1, 3, "before"))
        await assert_ledger(peers, [c0, c1])

        async def restart_redis():
            await asyncio.sleep(0.3)
            await asyncio.to_thread(own_redis.kill)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_redis.start)

        await asyncio.gather(
            restart_redis(),
            chatter(s0, None, 8, "during"), chatter(alice, c0, 8, "during"),
            chatter(s1, None, 8, "during"), chatter(bob, c1, 8, "during"),
        )
        # After it returns the conversations carry on.
        await asyncio.gather(chatter(s0, None, 3, "after"), chatter(alice, c0, 3, "after"),
                             chatter(s1, None, 3, "after"), chatter(bob, c1, 3, "after"))
        rows = await assert_ledger(peers, [c0, c1])
        assert len(rows) == 2 * (1 + 3 + 8 + 3) + 2 * (3 + 8 + 3)
        # The sockets that lived through the restart were made to resync (the layer lost their groups).
        assert all(p.connections >= 2 for p in peers), [(p.name, p.connections) for p in peers]
        assert a.proc.poll() is None and b.proc.poll() is None
        for p in peers:
            await p.stop()
    finally:
        a.stop()
        b.stop()


# -- 3. PostgreSQL refuses connections for a few seconds ----------------------

@pytest.mark.postgres
async def test_postgres_refusing_connections_gives_unavailable_and_retries_are_stored_once(transactional_db):
    from .tcpproxy import TcpProxy

    db = connection.settings_dict
    proxy = await TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432), free_port()).start()
    url = f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"
    server = DaphneProcess(free_port(), server_env(DATABASE_URL=url)).start()
    try:
        _, [(alice_user, alice_cookie)] = await _people("alice")
        shopper = await Shopper("s0", alive_first(server)).start()
        conv_id = await open_conversation(shopper, "hello")
        agent = await Agent("alice", alive_first(server), alice_cookie).start()
        await agent.claim(conv_id)
        _watch(shopper, conv_id), _watch(agent, conv_id)

        await proxy.refuse()
        await shopper.send_tracked({"type": "message", "client_id": "while-down", "text": "is anyone there?"})
        err = await shopper.expect("error", client_id="while-down")
        assert err["code"] == "unavailable" and "retry" in err["detail"]
        await agent.send_tracked({"type": "message", "conversation_id": conv_id, "client_id": "agent-down",
                                  "text": "one moment"})
        err = await agent.expect("error", client_id="agent-down")
        assert err["code"] == "unavailable"
        await asyncio.sleep(2.5)  # still down: retries keep failing, nothing is acknowledged
        await shopper._send(shopper.pending["while-down"])
        assert (await shopper.expect("error", client_id="while-down"))["code"] == "unavailable"
        assert "while-down" not in shopper.acked and "agent-down" not in agent.acked

        await proxy.resume()
        # The same client_ids again after recovery: stored once, acknowledged, delivered.
        await shopper.settle()
        await agent.settle()
        first = shopper.acked["while-down"]
        shopper.clear_inbox()
        await shopper._send({"type": "message", "client_id": "while-down", "text": "is anyone there?"})
        again = await shopper.expect("ack", client_id="while-down")
        assert again["message"] == first
        await asyncio.gather(chatter(shopper, None, 3, "recovered"), chatter(agent, conv_id, 3, "recovered"))
        rows = await assert_ledger([shopper, agent], [conv_id])
        assert [r["client_id"] for r in rows].count("while-down") == 1
        assert [r["client_id"] for r in rows].count("agent-down") == 1
        assert server.proc.poll() is None
        for p in (shopper, agent):
            await p.stop()
    finally:
        server.stop()
        await proxy.close()


# -- 4. a client that stops reading -------------------------------------------

class StalledClient:
    """A raw websocket that says hello over and over and never reads a byte of the answers."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /ws/widget/demo-store/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost:8000\r\n\r\n"
        ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, frame: dict) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def drain(self, timeout: float = 5) -> tuple[int, bool]:
        """Read everything still coming; returns (bytes, whether the server ended the connection)."""
        self.sock.settimeout(timeout)
        total = 0
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return total, True
                total += len(chunk)
        except ConnectionResetError:
            return total, True
        except socket.timeout:
            return total, False
        finally:
            self.sock.close()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _big_conversation(site, messages: int, size: int):
    from chatdesk.actions.visitors import make_visitor_token
    from chatdesk.models import Visitor
    from django.utils import timezone

    visitor = Visitor.objects.create(site=site)
    now = timezone.now()
    conv = Conversation.objects.create(site=site, visitor=visitor, queued_at=now, last_seq=messages)
    Message.objects.bulk_create(
        Message(conversation=conv, seq=i, sender="shopper", text=("x" * (size - 10)) + f"{i:010d}", created_at=now)
        for i in range(1, messages + 1)
    )
    return make_visitor_token(visitor)


async def test_a_client_that_stops_reading_is_dropped_and_stalls_nobody(transactional_db):
    limit = 256 * 1024
    server = DaphneProcess(free_port(), server_env(CHATDESK_WS_MAX_SEND_BUFFER_BYTES=limit)).start()
    try:
        site, [(alice_user, alice_cookie)] = await _people("alice")
        # Every `hello` from the stalled client asks for a ~400 KB welcome it will never read.
        token = await sync_to_async(_big_conversation)(site, 100, 4000)

        shopper = await Shopper("s0", alive_first(server)).start()
        conv_id = await open_conversation(shopper, "hello")
        agent = await Agent("alice", alive_first(server), alice_cookie).start()
        await agent.claim(conv_id)
        _watch(shopper, conv_id), _watch(agent, conv_id)
        await asyncio.sleep(0.5)
        rss_before = rss_bytes(server.proc.pid)

        stalled = await asyncio.to_thread(StalledClient, server.port)
        stalled.send({"type": "hello", "visitor_token": token, "last_seq": 0})
        requested = 0

        async def flood():
            nonlocal requested
            for _ in range(60):  # rate-limited to 10 a second after a burst of 20
                try:
                    # `hello` again: each welcome carries the whole conversation.
                    await asyncio.to_thread(stalled.send, {"type": "hello", "visitor_token": token, "last_seq": 0})
                except OSError:
                    return  # the server has dropped us
                requested += 400_000
                await asyncio.sleep(0.08)

        async def converse():
            """The others on the same process keep talking without delay."""
            worst = 0.0
            for i in range(12):
                t0 = time.monotonic()
                cid = await shopper.say(f"still there {i}")
                await shopper.settle(5)
                while not any(m.get("client_id") == cid for m in agent.seen.get(conv_id, {}).values()):
                    await asyncio.sleep(0.01)
                    assert time.monotonic() - t0 < 5, "the agent never got the shopper's message"
                worst = max(worst, time.monotonic() - t0)
                await asyncio.sleep(0.15)
            return worst

        _, worst = await asyncio.gather(flood(), converse())
        rss_after = rss_bytes(server.proc.pid)
        drained, ended = await asyncio.to_thread(stalled.drain)

        print(f"stalled client: asked for {requested / 1e6:.1f} MB, got {drained / 1e6:.1f} MB before the drop; "
              f"server RSS grew {(rss_after - rss_before) / 1e6:.1f} MB; worst latency for others {worst:.2f}s")
        assert worst < 1.5, f"a message between others took {worst:.2f}s while one client stalled"
        # The server dropped the stalled client: what reached it is bounded by the
        # kernel's socket buffers plus the limit, not by what it asked for.
        assert ended, "the server kept the stalled socket open"
        assert drained < 8_000_000, f"{drained} bytes were queued for a client that never read"
        growth = rss_after - rss_before
        assert growth < 12_000_000, f"server memory grew by {growth / 1e6:.1f} MB for one stalled client"
        await assert_ledger([shopper, agent], [conv_id])
        assert server.proc.poll() is None
        for p in (shopper, agent):
            await p.stop()
    finally:
        server.stop()
