"""Limits and fault handling of the socket doors, in-process: per-address caps, lost events, stalled readers."""
from __future__ import annotations

import random
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

from chatdesk import backpressure, limits
from chatdesk.events import agent_group, layer_event, visitor_group
from chatdesk.layer_watch import LayerWatch, layer_watch
from chatdesk.models import Message
from chatdesk.sockets import CLOSE_RESYNC, CLOSE_TRY_LATER

from .conftest import ON_REDIS, ORIGIN, Socket, console, widget

# Socket tests need committed rows (consumers use their own connection); the rest need no database.
db = pytest.mark.django_db(transaction=True)


def _random_address() -> str:
    # Redis-backed slots outlive a crashed test run by a minute: never reuse an address.
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def _widget_from(address: str):
    from chatdesk.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/widget/demo-store/", headers=[(b"origin", ORIGIN.encode())])
    communicator.scope["client"] = [address, 50000]
    connected, _ = await communicator.connect()
    assert connected
    return Socket(communicator)


@db
@override_settings(CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS=3)
async def test_widget_connections_from_one_address_are_capped_with_a_clear_error(site):
    crowded, other = _random_address(), _random_address()
    open_ones = [await _widget_from(crowded) for _ in range(3)]
    for sock in open_ones:
        await sock.send({"type": "ping"})
        await sock.expect("pong")

    refused = await _widget_from(crowded)
    err = await refused.recv()
    assert err["type"] == "error" and err["code"] == "too_many_connections"
    assert "at most 3" in err["detail"]
    assert await refused.c.receive_output(1) == {"type": "websocket.close", "code": CLOSE_TRY_LATER}

    # Another address is not affected, and a closed socket frees its slot.
    elsewhere = await _widget_from(other)
    await elsewhere.send({"type": "ping"})
    await elsewhere.expect("pong")
    await open_ones.pop().close()
    again = await _widget_from(crowded)
    await again.send({"type": "ping"})
    assert (await again.recv())["type"] == "pong"
    for sock in [*open_ones, elsewhere, again]:
        await sock.close()


@pytest.mark.skipif(not ON_REDIS, reason="slots are shared through Redis only with REDIS_URL")
async def test_slots_of_a_process_that_died_expire_by_themselves(settings, monkeypatch):
    backend = limits._RedisBackend(settings.REDIS_URL, f"test-{uuid.uuid4().hex[:8]}")
    address = _random_address()
    # A process holds two slots and dies without releasing them.
    assert await backend.acquire(address, "a", 2)
    assert await backend.acquire(address, "b", 2)
    assert not await backend.acquire(address, "c", 2)
    real_time = limits.time.time
    monkeypatch.setattr(limits.time, "time", lambda: real_time() + limits.SLOT_TTL_SECONDS + 1)
    assert await backend.acquire(address, "d", 2)
    await backend._client().delete(backend.key(address))


async def test_the_cap_fails_open_when_its_store_is_down():
    class Down:
        async def acquire(self, *a):
            raise RedisConnectionError("down")

    limiter = limits.AddressLimiter(Down())
    with override_settings(CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS=1):
        assert await limiter.acquire("10.0.0.1") is not None
        assert await limiter.acquire("10.0.0.1") is not None


@db
async def test_a_message_is_acknowledged_even_when_publishing_it_fails(site, alice, monkeypatch):
    layer = get_channel_layer()
    real_send = layer.group_send

    async def flaky(group, event):
        if group.startswith(("site.", "agent.")):
            raise RedisConnectionError("layer down")
        return await real_send(group, event)

    monkeypatch.setattr(layer, "group_send", flaky)
    if hasattr(layer, "group_send_many"):  # ChatDesk's Redis layer sends a message to both sides in one go
        real_many = layer.group_send_many

        async def flaky_many(groups, event):
            if any(g.startswith(("site.", "agent.")) for g in groups):
                raise RedisConnectionError("layer down")
            return await real_many(groups, event)

        monkeypatch.setattr(layer, "group_send_many", flaky_many)
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "stored, published nowhere"})
    ack = await shopper.expect("ack")
    assert ack["message"]["seq"] == 1
    assert await sync_to_async(Message.objects.filter(client_id="c1").count)() == 1
    watch = layer_watch()
    if watch is not None:
        # Noted for the watch, which makes every process resync once Redis answers (not in later tests).
        assert watch.publish_failed
        watch.publish_failed = False
    await shopper.close()


@db
async def test_a_retried_send_is_published_again_so_the_other_side_sees_it(site, alice):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "hi"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")

    layer = get_channel_layer()
    real = {name: getattr(layer, name) for name in ("group_send", "group_send_many") if hasattr(layer, name)}

    async def dropped(*args):  # the process "dies" between commit and publish
        return None

    for name in real:
        setattr(layer, name, dropped)
    try:
        await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "lost in flight"})
        await agent.expect("ack", client_id="a1")
    finally:
        for name, method in real.items():
            setattr(layer, name, method)
    assert [f for f in await shopper.drain() if f["type"] == "message"] == []
    # The agent's client retries (it never saw the ack in the real crash): the shopper now gets it, once.
    await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "lost in flight"})
    await agent.expect("ack", client_id="a1")
    got = await shopper.expect("message")
    assert got["message"]["text"] == "lost in flight" and got["message"]["seq"] == 2
    await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "lost in flight"})
    await agent.expect("ack", client_id="a1")
    assert [f for f in await shopper.drain() if f["type"] == "message"] == []
    await shopper.close()
    await agent.close()


@db
async def test_a_socket_is_never_sent_the_same_message_twice(site, alice):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "one"})
    ack = await shopper.expect("ack")
    conv_id = ack["message"]["conversation_id"]
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    detail = await agent.expect("detail")
    assert [m["seq"] for m in detail["messages"]] == [1]

    # A late live copy of seq 1 (published after the agent's resync read it) is dropped...
    layer = get_channel_layer()
    frame = {"type": "message", "message": ack["message"]}
    await layer.group_send(agent_group(alice.id), layer_event(frame, seq=1, conversation_id=conv_id))
    assert [f for f in await agent.drain() if f["type"] == "message"] == []
    # ...while an explicit sync answers what it asks for, and a new seq arrives live exactly once.
    await agent.send({"type": "sync", "conversation_id": conv_id, "last_seq": 0})
    answer = []
    while not answer or answer[-1] != "synced":
        frame = await agent.recv()
        if frame["type"] in ("message", "synced"):
            answer.append(frame["type"])
    assert answer == ["message", "synced"]
    await shopper.send({"type": "message", "client_id": "c2", "text": "two"})
    assert (await agent.expect("message"))["message"]["seq"] == 2
    assert [f for f in await agent.drain() if f["type"] == "message"] == []
    await shopper.close()
    await agent.close()


@db
async def test_a_database_outage_gives_unavailable_and_keeps_the_socket(site, monkeypatch):
    from chatdesk.actions import conversations

    shopper = await widget()

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(conversations, "post_shopper_message", down)
    await shopper.send({"type": "message", "client_id": "c1", "text": "hello?"})
    err = await shopper.expect("error")
    assert (err["code"], err["client_id"]) == ("unavailable", "c1")
    monkeypatch.undo()
    await shopper.send({"type": "message", "client_id": "c1", "text": "hello?"})
    assert (await shopper.expect("ack"))["message"]["seq"] == 1
    await shopper.close()


# -- the layer watch ----------------------------------------------------------

class FakeConsumer:
    def __init__(self):
        self.closed_with = None

    async def close(self, code=None):
        self.closed_with = code


@pytest.mark.skipif(not ON_REDIS, reason="the watch exists only with the Redis layer")
async def test_lost_layer_events_make_every_process_resync_its_sockets(settings):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    here = LayerWatch(settings.REDIS_URL, prefix, 1)
    there = LayerWatch(settings.REDIS_URL, prefix, 1)
    mine, theirs = FakeConsumer(), FakeConsumer()
    here.consumers.add(mine)
    there.consumers.add(theirs)
    assert not await here.check_once() and not await there.check_once()
    assert not await here.check_once()

    # This process failed to publish: once Redis answers, both processes resync.
    here.note_publish_failure()
    assert await here.check_once()
    assert await there.check_once()
    assert mine.closed_with == theirs.closed_with == CLOSE_RESYNC
    assert not await there.check_once()
    await here._client().delete(here.gap_key)


async def test_an_unreachable_layer_resyncs_sockets_once_it_is_back():
    watch = LayerWatch("redis://127.0.0.1:1/0", "nowhere", 1)
    sock = FakeConsumer()
    watch.consumers.add(sock)
    epochs = iter([("run-1", None), RedisConnectionError("down"), ("run-1", None), ("run-2", None)])

    async def read_epoch():
        value = next(epochs)
        if isinstance(value, Exception):
            raise value
        return value

    watch._read_epoch = read_epoch
    assert not await watch.check_once()  # first look
    assert not await watch.check_once()  # unreachable
    assert await watch.check_once() and sock.closed_with == CLOSE_RESYNC  # back: events may be lost
    sock.closed_with = None
    assert await watch.check_once() and sock.closed_with == CLOSE_RESYNC  # restarted: new run_id


# -- stalled readers ------------------------------------------------------------

class FakeTransport:
    def __init__(self, buffered: int):
        self.dataBuffer = b"x" * buffered
        self.offset = 0
        self._tempDataLen = 0


def test_unsent_bytes_counts_twisted_buffers_and_wrappers():
    tcp = FakeTransport(1000)
    tcp.offset = 200
    tcp._tempDataLen = 50

    class Wrapper:  # e.g. TLS on top of TCP
        transport = tcp

    class Protocol:
        transport = Wrapper()
        send_queue = [(b"abc", False)]

    assert backpressure.unsent_bytes(Protocol()) == 800 + 50 + 3


def test_a_socket_over_its_send_backlog_is_dropped_not_buffered():
    from daphne.ws_protocol import WebSocketProtocol

    assert backpressure.install(1000)
    sent, dropped = [], []

    class Fake:
        STATE_OPEN = WebSocketProtocol.STATE_OPEN
        state = WebSocketProtocol.STATE_OPEN
        STATE_CONNECTING = WebSocketProtocol.STATE_CONNECTING
        client_addr = ["127.0.0.1", 1]
        send_queue = []

        def sendMessage(self, payload, binary):
            sent.append(payload)

        def dropConnection(self, abort=False):
            dropped.append(abort)

    fake = Fake()
    fake.transport = FakeTransport(10)
    WebSocketProtocol.serverSend(fake, "fine")
    fake.transport = FakeTransport(5000)
    WebSocketProtocol.serverSend(fake, "one too many")
    WebSocketProtocol.serverSend(fake, "and another")
    assert sent == [b"fine"] and dropped == [True]
    from django.conf import settings

    backpressure.install(settings.CHATDESK_WS_MAX_SEND_BUFFER_BYTES)
