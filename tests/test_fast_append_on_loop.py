"""A chat message stored from the event loop (chatdesk.asyncdb) keeps every rule of the thread path, and falls back to it."""
from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chatdesk import asyncdb
from chatdesk.actions import conversations
from chatdesk.actions.conversations import (
    post_agent_message, post_agent_message_on_loop, post_shopper_message, post_shopper_message_on_loop,
)
from chatdesk.models import Conversation, Message, Visitor

from .conftest import console, make_agent, widget
from .test_fast_append import _claimed_conversation, _collect, events_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _seqs(conv_id):
    return list(Message.objects.filter(conversation_id=conv_id).order_by("seq").values_list("seq", flat=True))


async def test_the_loop_path_stores_and_emits_exactly_what_the_thread_path_does():
    _, alice, visitor, conv_id = await sync_to_async(_claimed_conversation)()
    loop_msg, loop_events = await post_shopper_message_on_loop(visitor, "loop", "card 4242 4242 4242 4242", conv_id)
    loop_reply, loop_reply_events = await post_agent_message_on_loop(alice, conv_id, "loop-a", "reply")
    (thread_msg, _), thread_events = await sync_to_async(_collect)(
        post_shopper_message, visitor, "thread", "card 4242 4242 4242 4242", conv_id)
    (thread_reply, _), thread_reply_events = await sync_to_async(_collect)(
        post_agent_message, alice, conv_id, "thread-a", "reply")

    assert [loop_msg.seq, loop_reply.seq, thread_msg.seq, thread_reply.seq] == [2, 3, 4, 5]
    assert "4242 4242 4242 4242" not in loop_msg.text and loop_msg.text == thread_msg.text
    stored = await Message.objects.aget(pk=loop_reply.id)
    assert (stored.author_id, stored.author_name, stored.client_id) == (alice.id, "Alice", "loop-a")
    conv = await Conversation.objects.aget(pk=conv_id)
    assert conv.first_agent_message_at is not None and conv.last_seq == 5

    def same(on_loop, in_thread, thread_cid):
        assert len(on_loop) == len(in_thread)
        for (ga, ea), (gb, (fb, sb)) in zip(on_loop, in_thread):
            fa, sa = events_text(ea)
            fa["message"]["client_id"] = thread_cid
            fa["message"]["seq"] += 2
            assert (ga, fa, sa) == (gb, fb, sb)

    same(loop_events, thread_events, "thread")
    same(loop_reply_events, thread_reply_events, "thread-a")


async def test_whatever_the_loop_path_cannot_decide_it_leaves_to_the_thread_path_and_stores_nothing():
    site, alice, visitor, conv_id = await sync_to_async(_claimed_conversation)()
    bob = await sync_to_async(make_agent)("bob", site)
    other = await Visitor.objects.acreate(site=site)
    assert await post_shopper_message_on_loop(visitor, "open", "a retry of the first message", conv_id) is None
    assert await post_shopper_message_on_loop(visitor, "x", "no conversation known", None) is None
    assert await post_shopper_message_on_loop(other, "x", "someone else's conversation", conv_id) is None
    assert await post_agent_message_on_loop(bob, conv_id, "b", "not assigned to bob") is None
    assert await post_agent_message_on_loop(alice, 10**9, "a", "no such conversation") is None
    assert await sync_to_async(_seqs)(conv_id) == [1]


async def test_a_failed_connection_falls_back_to_the_thread_path(monkeypatch):
    import psycopg

    _, alice, visitor, conv_id = await sync_to_async(_claimed_conversation)()

    async def refused(self):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(asyncdb._Pool, "_connect", refused)
    assert await post_agent_message_on_loop(alice, conv_id, "a", "PostgreSQL unreachable from the loop") is None
    agent = await console(alice)
    await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "via a thread"})
    ack = await agent.expect("ack")
    assert ack["message"]["seq"] == 2
    await agent.close()


async def test_a_statement_cancelled_midway_never_hands_its_connection_on():
    _, alice, visitor, conv_id = await sync_to_async(_claimed_conversation)()
    async with asyncdb.connection() as conn:
        first = conn
    task = asyncio.ensure_future(post_agent_message_on_loop(alice, conv_id, "c", "cancelled"))
    await asyncio.sleep(0)  # the statement is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert first.closed
    done = await post_agent_message_on_loop(alice, conv_id, "d", "after the cancel")
    assert done is not None
    # Every slot is free again: as many connections as the pool holds can be taken at once.
    size = asyncdb._pools[asyncio.get_running_loop()].slots._value
    assert size == 4


async def test_messages_over_sockets_take_the_loop_path_and_keep_seq_gap_free(site, alice, monkeypatch):
    thread_calls = []
    for name in ("post_shopper_message", "post_agent_message"):
        real = getattr(conversations, name)
        monkeypatch.setattr(conversations, name, lambda *a, _real=real, _n=name: thread_calls.append(_n) or _real(*a))
    shopper = await widget()
    agent = await console(alice)
    await shopper.send({"type": "message", "client_id": "s0", "text": "first opens the conversation"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    for i in range(1, 6):
        await shopper.send({"type": "message", "client_id": f"s{i}", "text": f"shopper {i}"})
        await agent.send({"type": "message", "conversation_id": conv_id, "client_id": f"a{i}", "text": f"agent {i}"})
    acks = [await shopper.expect("ack") for _ in range(5)] + [await agent.expect("ack") for _ in range(5)]
    assert sorted(a["message"]["seq"] for a in acks) == list(range(2, 12))
    # Only the opening message (no conversation yet) went through a worker thread.
    assert thread_calls == ["post_shopper_message"]
    assert await sync_to_async(_seqs)(conv_id) == list(range(1, 12))
    await shopper.close()
    await agent.close()
