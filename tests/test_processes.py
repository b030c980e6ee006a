"""Two real Daphne processes sharing PostgreSQL and Redis: conversing across them and surviving a SIGKILL."""
from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chatdesk.models import Message

from .conftest import make_agent, make_site, session_cookie
from .wsclient import Client

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


async def _setup():
    site = await sync_to_async(make_site)()
    alice = await sync_to_async(make_agent)("alice", site)
    cookie = (await sync_to_async(session_cookie)(alice)).decode()
    return site, alice, cookie


async def test_shopper_and_agent_on_different_processes_converse_and_survive_a_kill(daphne_pair):
    a, b = daphne_pair
    _, _, cookie = await _setup()
    shopper = await Client.connect(f"{a.ws_url}/ws/widget/demo-store/")
    await shopper.send({"type": "hello", "visitor_token": None, "last_seq": 0})
    welcome = await shopper.expect("welcome")
    agent = await Client.connect(f"{b.ws_url}/ws/console/", cookie=cookie)
    await agent.expect("state")

    await shopper.send({"type": "message", "client_id": "s1", "text": "hello from A"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "hello from B"})
    await agent.expect("ack", client_id="a1")
    got = await shopper.expect("message")
    assert got["message"]["text"] == "hello from B" and got["message"]["seq"] == 2
    seen_by_shopper = {1, 2}

    # Process A dies mid-conversation. The agent keeps writing meanwhile.
    a.kill()
    for i in range(3):
        await agent.send({"type": "message", "conversation_id": conv_id, "client_id": f"a-off-{i}", "text": f"while you were away {i}"})
        await agent.expect("ack", client_id=f"a-off-{i}")

    # The shopper reconnects to B and resumes from the last seq it saw.
    shopper2 = await Client.connect(f"{b.ws_url}/ws/widget/demo-store/")
    await shopper2.send({"type": "hello", "visitor_token": welcome["visitor_token"], "last_seq": max(seen_by_shopper)})
    resumed = await shopper2.expect("welcome")
    assert resumed["visitor_id"] == welcome["visitor_id"]
    assert [m["seq"] for m in resumed["messages"]] == [3, 4, 5]
    seen_by_shopper |= {m["seq"] for m in resumed["messages"]}

    # A retry of a message that was acknowledged before the crash is not stored again.
    await shopper2.send({"type": "message", "client_id": "s1", "text": "hello from A"})
    assert (await shopper2.expect("ack"))["message"]["seq"] == 1
    await shopper2.send({"type": "message", "client_id": "s2", "text": "back again"})
    assert (await shopper2.expect("ack"))["message"]["seq"] == 6
    while (await agent.expect("message"))["message"]["text"] != "back again":
        pass

    stored = await sync_to_async(lambda: list(Message.objects.filter(conversation_id=conv_id).values_list("seq", flat=True)))()
    assert stored == [1, 2, 3, 4, 5, 6]
    assert seen_by_shopper | {6} == set(stored)
    await shopper2.close()
    await agent.close()


async def test_a_retry_on_the_other_process_returns_the_same_ack(daphne_pair):
    a, b = daphne_pair
    await _setup()
    first = await Client.connect(f"{a.ws_url}/ws/widget/demo-store/")
    await first.send({"type": "hello", "visitor_token": None})
    welcome = await first.expect("welcome")
    await first.send({"type": "message", "client_id": "retry-me", "text": "are you there?"})
    ack1 = await first.expect("ack")
    second = await Client.connect(f"{b.ws_url}/ws/widget/demo-store/")
    await second.send({"type": "hello", "visitor_token": welcome["visitor_token"], "last_seq": 1})
    await second.expect("welcome")
    await second.send({"type": "message", "client_id": "retry-me", "text": "are you there?"})
    ack2 = await second.expect("ack")
    assert ack1 == ack2
    assert await sync_to_async(Message.objects.count)() == 1
    await first.close()
    await second.close()
