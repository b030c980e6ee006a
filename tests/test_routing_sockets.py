"""Routing over the real sockets: availability and leaving a message, per-agent queues, queue frames on change."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from agents.models import Team
from chatdesk.models import LeftMessage, Visitor

from .conftest import console, widget
from .routing_support import agent

pytestmark = pytest.mark.django_db(transaction=True)

BIG_CART = {"currency": "USD", "checkout_step": "payment",
            "items": [{"sku": "TV-1", "name": "TV", "quantity": 1, "unit_price": "900.00"}]}


async def test_with_nobody_online_the_widget_offers_to_leave_a_message_which_the_next_agent_online_gets(site):
    shopper = await widget()
    assert shopper.welcome["availability"] == {"open": False, "agents_online": 0, "reason": "no_agents"}

    await shopper.send({"type": "leave_message", "client_id": "l1", "text": "Do you ship to Norway?"})
    refused = await shopper.expect("error")
    assert (refused["code"], refused["field"], refused["client_id"]) == ("missing_field", "email", "l1")
    await shopper.send({"type": "leave_message", "client_id": "l1", "text": "Do you ship to Norway?",
                        "email": "kari@example.no"})
    left = await shopper.expect("left_message")
    assert left["client_id"] == "l1"
    assert await sync_to_async(LeftMessage.objects.count)() == 1

    alice = await sync_to_async(agent)("alice", site)
    desk = await console(alice)
    pending = desk.state["left_messages"]
    assert [(m["text"], m["email"], m["agent"]["id"]) for m in pending] == [("Do you ship to Norway?", "kari@example.no", alice.id)]
    # The shopper's widget hears that someone is now online.
    assert (await shopper.expect("availability"))["open"] is True
    await desk.send({"type": "left_message_done", "left_message_id": pending[0]["id"], "note": "replied by email"})
    done = await desk.expect("left_message")
    while done["left_message"]["status"] != "done":  # the earlier frame told of its assignment
        done = await desk.expect("left_message")
    assert done["left_message"]["done_note"] == "replied by email"
    await shopper.close()
    await desk.close()


async def test_each_agent_is_sent_only_the_queues_they_serve(site):
    high = await sync_to_async(Team.objects.create)(site=site, name="High value", min_cart_value=Decimal("500.00"))
    vip_agent = await sync_to_async(agent)("vera", site, teams=[high])
    plain_agent = await sync_to_async(agent)("paul", site)
    vera, paul = await console(vip_agent), await console(plain_agent)

    big = await widget()
    await big.send({"type": "cart", "cart": BIG_CART})
    await big.send({"type": "message", "client_id": "b1", "text": "Is the TV in stock?"})
    big_id = (await big.expect("ack"))["message"]["conversation_id"]
    small = await widget()
    await small.send({"type": "message", "client_id": "s1", "text": "Hi"})
    small_id = (await small.expect("ack"))["message"]["conversation_id"]

    async def last_queue(sock):
        frames = [f for f in await sock.drain(0.5) if f["type"] == "queue"]
        return [c["id"] for c in frames[-1]["queue"]]

    assert await last_queue(vera) == [big_id, small_id]
    paul_frames = await paul.drain(0.3)
    assert not any(big_id == f.get("conversation", {}).get("id") for f in paul_frames)
    assert not any(f.get("message", {}).get("conversation_id") == big_id for f in paul_frames)
    queues = [f for f in paul_frames if f["type"] == "queue"]
    assert queues and all(big_id not in [c["id"] for c in f["queue"]] for f in queues)
    await paul.send({"type": "open", "conversation_id": big_id})
    assert (await paul.expect("error"))["code"] == "forbidden"
    for sock in (vera, paul, big, small):
        await sock.close()


async def test_a_waiting_shopper_is_told_their_new_place_when_someone_ahead_is_answered(site):
    alice = await sync_to_async(agent)("alice", site)
    first, second = await widget(), await widget()
    await first.send({"type": "message", "client_id": "f1", "text": "first"})
    first_id = (await first.expect("ack"))["message"]["conversation_id"]
    await second.send({"type": "message", "client_id": "s1", "text": "second"})
    await second.expect("ack")
    assert (await second.expect("queue"))["position"] == 2
    desk = await console(alice)
    assert (await second.expect("queue"))["eta_seconds"] is not None  # an agent came online: a new estimate
    await desk.send({"type": "claim", "conversation_id": first_id})
    await desk.expect("detail")
    moved = await second.expect("queue")
    assert moved["position"] == 1 and moved["agents_online"] == 1
    # Reconnecting, the shopper is told their place at once.
    again = await widget(token=second.welcome["visitor_token"])
    assert again.welcome["conversation"]["queue_position"] == 1
    assert (await again.expect("queue"))["position"] == 1
    for sock in (first, second, again, desk):
        await sock.close()


async def test_a_widget_ping_keeps_the_shopper_present(site):
    shopper = await widget()
    visitor_id = shopper.welcome["visitor_id"]
    long_ago = timezone.now() - timedelta(hours=1)
    await sync_to_async(Visitor.objects.filter(public_id=visitor_id).update)(last_seen_at=long_ago)
    await shopper.send({"type": "ping"})
    await shopper.expect("pong")
    seen = await sync_to_async(lambda: Visitor.objects.get(public_id=visitor_id).last_seen_at)()
    assert seen > long_ago + timedelta(minutes=59)
    await shopper.close()
