"""The console socket's extra frames: state for the page, context, catalogue search, visitors at checkout, resync."""
from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from agents.at_checkout import visitors_at_checkout
from agents.models import CannedReply, Team
from chatdesk.models import Cart, Conversation, Order, Product, Visitor

from .conftest import console, make_agent, make_site, widget

pytestmark = pytest.mark.django_db(transaction=True)

SHIPPING_CART = {"currency": "USD", "checkout_step": "shipping", "shipping": "7.50", "items": [
    {"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 2, "unit_price": "19.99", "image_url": "/t.svg"}]}


async def _queued(shopper, text="hi", client_id="c1"):
    await shopper.send({"type": "message", "client_id": client_id, "text": text})
    return (await shopper.expect("ack", client_id=client_id))["message"]["conversation_id"]


async def test_state_gives_the_page_what_it_needs_per_site(site, alice, bob):
    other = await sync_to_async(make_site)("other-shop")
    await sync_to_async(CannedReply.objects.create)(site=site, shortcut="hello", title="Greeting", text="Hi {name}!")
    await sync_to_async(CannedReply.objects.create)(site=other, shortcut="secret", title="Other", text="not ours")
    await sync_to_async(Team.objects.create)(site=site, name="High value")
    agent = await console(alice)
    state = agent.state
    assert state["canned_replies"] == [{"site": "demo-store", "shortcut": "hello", "title": "Greeting", "text": "Hi {name}!"}]
    assert [t["name"] for t in state["teams"]] == ["High value"]
    assert {a["username"] for a in state["agents"]} == {"alice", "bob"}
    assert all({"presence", "capacity", "load"} <= set(a) for a in state["agents"])
    codes = [r["code"] for r in state["close_reasons"]]
    assert codes[0] == "extra_costs" and "other" in codes and len(codes) == 13
    assert state["offer_kinds"] == ["upsell", "cross_sell", "bundle", "discount", "free_shipping"]
    assert state["open_conversations"] == [] and state["visitors"] == []
    await agent.close()


async def test_open_conversations_of_the_site_include_other_agents_ones(site, alice, bob):
    shopper = await widget()
    conv_id = await _queued(shopper)
    b = await console(bob)
    await b.send({"type": "claim", "conversation_id": conv_id})
    await b.expect("detail")
    a = await console(alice)
    assert [(c["id"], c["agent"]["name"]) for c in a.state["open_conversations"]] == [(conv_id, "Bob")]
    assert a.state["conversations"] == []
    for s in (shopper, a, b):
        await s.close()


async def test_claiming_gives_the_context_with_cart_journey_and_signals(site, alice):
    shopper = await widget()
    await shopper.send({"type": "page", "url": "http://localhost:8000/demo/", "title": "Demo store"})
    await shopper.send({"type": "cart", "cart": SHIPPING_CART})
    conv_id = await _queued(shopper)
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    detail = await agent.expect("detail")
    context = detail["context"]
    assert context["cart"]["total"] == "47.48" and context["cart"]["items"][0]["image_url"] == "/t.svg"
    assert [s["step"] for s in context["journey"]] == ["shipping"]
    assert [p["title"] for p in context["pages"]] == ["Demo store"]
    assert [s["code"] for s in context["signals"]] == ["shipping_shown"]
    assert context["signals"][0]["text"] == "Shipping cost $7.50 shown just now"
    assert context["visitor"]["online"] is True
    assert context["previous_conversations"] == [] and context["orders"] == []
    for s in (shopper, agent):
        await s.close()


async def test_context_is_asked_again_after_a_cart_change_and_follows_it(site, alice):
    shopper = await widget()
    await shopper.send({"type": "cart", "cart": SHIPPING_CART})
    conv_id = await _queued(shopper)
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    await shopper.send({"type": "cart", "cart": {**SHIPPING_CART, "checkout_step": "payment"}})
    pushed = await agent.expect("cart", conversation_id=conv_id)
    assert pushed["cart"]["checkout_step"] == "payment"
    await agent.send({"type": "context", "conversation_id": conv_id})
    frame = await agent.expect("context", conversation_id=conv_id)
    assert [s["step"] for s in frame["context"]["journey"]] == ["shipping", "payment"]
    for s in (shopper, agent):
        await s.close()


async def test_previous_conversations_and_orders_of_the_visitor_are_in_the_context(site, alice):
    shopper = await widget()
    first = await _queued(shopper, "first time", "c1")
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": first})
    await agent.expect("detail")
    await agent.send({"type": "close", "conversation_id": first, "reason": "delivery_slow", "note": ""})
    await shopper.expect("closed")
    visitor = await sync_to_async(Visitor.objects.get)(public_id=shopper.welcome["visitor_id"])
    await sync_to_async(Order.objects.create)(site=site, order_id="1001", visitor=visitor, currency="USD",
                                              total=Decimal("64.00"), created_at=timezone.now())
    second = await _queued(shopper, "back again", "c2")
    await agent.send({"type": "open", "conversation_id": second})
    context = (await agent.expect("detail"))["context"]
    assert [(c["id"], c["close_reason"], c["close_reason_label"]) for c in context["previous_conversations"]] == [
        (first, "delivery_slow", "Delivery too slow")]
    assert [(o["order_id"], o["total"]) for o in context["orders"]] == [("1001", "64.00")]
    for s in (shopper, agent):
        await s.close()


async def test_context_of_an_unknown_or_foreign_conversation_is_refused(site, alice):
    other = await sync_to_async(make_site)("other-shop")
    eve = await sync_to_async(make_agent)("eve", other)
    shopper = await widget()
    conv_id = await _queued(shopper)
    e = await console(eve)
    await e.send({"type": "context", "conversation_id": conv_id})
    assert (await e.expect("error"))["code"] == "forbidden"
    await e.send({"type": "context", "conversation_id": 999999})
    assert (await e.expect("error"))["code"] == "not_found"
    await e.send({"type": "context", "conversation_id": "x"})
    assert (await e.expect("error"))["code"] == "invalid_field"
    for s in (shopper, e):
        await s.close()


async def test_product_search_covers_the_agents_sites_only(site, alice):
    other = await sync_to_async(make_site)("other-shop")
    for s, sku, name, price in ((site, "TEE-1", "Organic cotton tee", "19.99"), (site, "MUG-1", "Stoneware mug", "14.00"),
                                (other, "TEE-9", "Other shop tee", "9.00")):
        await sync_to_async(Product.objects.create)(site=s, sku=sku, name=name, price=Decimal(price))
    agent = await console(alice)
    await agent.send({"type": "products", "q": "tee"})
    found = await agent.expect("products")
    assert [(p["sku"], p["price"], p["site"]) for p in found["products"]] == [("TEE-1", "19.99", "demo-store")]
    await agent.send({"type": "products"})
    assert [p["sku"] for p in (await agent.expect("products"))["products"]] == ["TEE-1", "MUG-1"]
    await agent.send({"type": "products", "q": "x" * 101})
    assert (await agent.expect("error"))["code"] == "invalid_field"
    await agent.close()


async def test_a_shopper_reaching_checkout_appears_live_and_drops_off_when_gone(site, alice):
    agent = await console(alice)
    shopper = await widget()
    visitor_id = shopper.welcome["visitor_id"]
    await shopper.send({"type": "cart", "cart": {**SHIPPING_CART, "checkout_step": "cart"}})
    await shopper.send({"type": "cart", "cart": SHIPPING_CART})
    row = (await agent.expect("visitor", visitor_id=visitor_id))["visitor"]
    assert (row["checkout_step"], row["cart_total"], row["items"]) == ("shipping", "47.48", 2)
    assert row["idle_seconds"] >= 0 and row["conversation_id"] is None
    await agent.send({"type": "visitors"})
    assert [v["visitor_id"] for v in (await agent.expect("visitors"))["visitors"]] == [visitor_id]

    await shopper.close()
    gone = await agent.expect("visitor", visitor_id=visitor_id)
    assert gone["visitor"] is None
    assert await sync_to_async(visitors_at_checkout)([site.id]) == []
    await agent.close()


async def test_visitors_at_checkout_lists_only_connected_carts_between_contact_and_review(site):
    def setup():
        rows = {}
        for name, step, sockets, total in (("Ann", "contact", 1, "80.00"), ("Ben", "cart", 1, "500.00"),
                                           ("Cat", "payment", 0, "90.00"), ("Dan", "complete", 1, "70.00"),
                                           ("Eve", "review", 2, "120.00")):
            v = Visitor.objects.create(site=site, name=name, connected_sockets=sockets, last_seen_at=timezone.now())
            Cart.objects.create(site=site, visitor=v, cart_token=f"t-{name}", checkout_step=step, total=Decimal(total),
                                last_activity_at=timezone.now())
            rows[name] = v
        return visitors_at_checkout([site.id])

    rows = await sync_to_async(setup)()
    assert [(r["name"], r["checkout_step"], r["cart_total"]) for r in rows] == [("Eve", "review", "120.00"),
                                                                              ("Ann", "contact", "80.00")]


async def test_invite_sends_the_shopper_a_prompt(site, alice):
    agent = await console(alice)
    shopper = await widget()
    await agent.send({"type": "invite", "visitor_id": shopper.welcome["visitor_id"], "text": "Need a hand with shipping?"})
    await agent.expect("invited")
    prompt = await shopper.expect("prompt")
    assert prompt["text"] == "Need a hand with shipping?"
    await agent.send({"type": "invite", "visitor_id": "not-a-uuid"})
    assert (await agent.expect("error"))["code"] == "not_found"
    for s in (shopper, agent):
        await s.close()


async def test_sync_replays_messages_then_synced_carries_notes_and_offers(site, alice):
    await sync_to_async(Product.objects.create)(site=site, sku="CAP-1", name="Canvas cap", price=Decimal("17.50"))
    shopper = await widget()
    conv_id = await _queued(shopper)
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    await agent.send({"type": "note", "conversation_id": conv_id, "client_id": "n1", "text": "VIP"})
    await agent.expect("ack", client_id="n1")
    await agent.send({"type": "offer", "conversation_id": conv_id, "client_id": "o1",
                      "offer": {"kind": "cross_sell", "title": "Canvas cap", "sku": "CAP-1", "price": "15.00"}})
    await agent.expect("ack", client_id="o1")
    await shopper.send({"type": "message", "client_id": "c2", "text": "missed one"})
    await shopper.expect("ack", client_id="c2")
    await agent.drain()
    await agent.send({"type": "sync", "conversation_id": conv_id, "last_seq": 1})
    assert (await agent.expect("message"))["message"]["text"] == "missed one"
    synced = await agent.expect("synced")
    assert synced["last_seq"] == 2 and synced["conversation"]["status"] == "active"
    assert [n["text"] for n in synced["notes"]] == ["VIP"]
    assert [(o["title"], o["status"]) for o in synced["offers"]] == [("Canvas cap", "proposed")]
    for s in (shopper, agent):
        await s.close()


async def test_a_closed_conversation_leaves_the_queue_and_the_open_list(site, alice):
    shopper = await widget()
    conv_id = await _queued(shopper)
    agent = await console(alice)
    await agent.send({"type": "close", "conversation_id": conv_id, "reason": "not-a-reason"})
    assert (await agent.expect("error"))["code"] == "invalid_field"
    await agent.send({"type": "close", "conversation_id": conv_id, "reason": "just_browsing"})
    changed = await agent.expect("conversation")
    assert changed["conversation"]["status"] == "closed" and changed["conversation"]["close_reason"] == "just_browsing"
    assert (await agent.expect("queue"))["queue"] == []
    assert await sync_to_async(Conversation.objects.filter(status="closed").count)() == 1
    for s in (shopper, agent):
        await s.close()


async def test_with_more_waiting_than_a_console_lists_the_frames_carry_the_top_ones_and_the_full_count(
        site, alice, monkeypatch):
    """Thousands waiting made `state` and `queue` frames megabytes (over the 1 MiB websocket limit): they are capped."""
    from chatdesk.actions import queue as queue_rules

    monkeypatch.setattr(queue_rules, "QUEUE_SHOWN", 3)
    monkeypatch.setattr("agents.console_state.QUEUE_SHOWN", 3)
    shoppers, carts = [], ["10.00", "90.00", "30.00", "70.00", "50.00"]
    for i, total in enumerate(carts):
        s = await widget()
        await s.send({"type": "cart", "cart": {"currency": "USD", "checkout_step": "payment", "items": [
            {"sku": "TEE-1", "quantity": 1, "unit_price": total}]}})
        await _queued(s, client_id=f"c{i}")
        shoppers.append(s)
    agent = await console(alice)
    assert [c["cart_total"] for c in agent.state["queue"]] == ["90.00", "70.00", "50.00"]
    assert agent.state["queue_totals"] == {"demo-store": 5}
    # A sixth shopper: every console gets the top three again and the new count.
    sixth = await widget()
    await sixth.send({"type": "cart", "cart": {"currency": "USD", "checkout_step": "payment", "items": [
        {"sku": "TEE-1", "quantity": 1, "unit_price": "80.00"}]}})
    await _queued(sixth, client_id="c6")
    frame = await agent.expect("queue")
    while frame["total"] != 6:
        frame = await agent.expect("queue")
    assert [c["cart_total"] for c in frame["queue"]] == ["90.00", "80.00", "70.00"]
    for s in shoppers + [sixth, agent]:
        await s.close()


async def test_a_claim_resends_a_long_waiting_list_only_to_consoles_where_someone_moves_up_into_view(
        site, alice, bob, monkeypatch):
    """200 claims once sent every console the whole list 200 times; the claimed conversation's own frame suffices."""
    from chatdesk.actions import queue as queue_rules

    shoppers = [await widget() for _ in range(4)]
    ids = [await _queued(s, client_id=f"c{i}") for i, s in enumerate(shoppers)]
    a, b = await console(alice), await console(bob)
    # A short list is resent (the contract's whole-list `queue` frame, cheap at that size).
    await a.send({"type": "claim", "conversation_id": ids[3]})
    await a.expect("detail")
    frame = await b.expect("queue")
    assert [c["id"] for c in frame["queue"]] == ids[:3]
    monkeypatch.setattr(queue_rules, "SHORT_QUEUE", 1)  # from here on, "long" means over one
    await b.drain(0.3)
    await a.send({"type": "claim", "conversation_id": ids[0]})
    await a.expect("detail")
    gone = await b.expect("conversation")
    assert (gone["conversation"]["id"], gone["conversation"]["status"]) == (ids[0], "active")
    assert [f for f in await b.drain(0.6) if f["type"] == "queue"] == []
    # More waiting than a console lists: the next one moves up, so the list comes again with the count.
    monkeypatch.setattr(queue_rules, "QUEUE_SHOWN", 1)
    await a.send({"type": "claim", "conversation_id": ids[1]})
    frame = await b.expect("queue")
    assert ([c["id"] for c in frame["queue"]], frame["total"]) == ([ids[2]], 1)
    for s in shoppers + [a, b]:
        await s.close()
