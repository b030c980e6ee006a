"""Offers: proposed -> accepted / declined / expired, an `offer` frame to both sides on every change."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chatdesk import events
from chatdesk.actions import conversations, offers
from chatdesk.errors import ActionError
from chatdesk.models import Conversation, Offer, Product, Visitor
from chatdesk.tasks.offers import expire_offers_task

from .conftest import console, make_agent, widget


def _active_conversation(site, agent):
    visitor = Visitor.objects.create(site=site)
    msg, _ = conversations.post_shopper_message(visitor, "s1", "any deals?")
    conversations.claim(agent, msg.conversation_id)
    return Conversation.objects.select_related("visitor").get(pk=msg.conversation_id)


def _frames(bucket):
    return [(group, orjson.loads(event["text"])) for group, event in bucket]


@pytest.fixture
def active(site, django_capture_on_commit_callbacks):
    agent = make_agent("alice", site)
    Product.objects.create(site=site, sku="HOODIE-1", name="Fleece hoodie", price=Decimal("54.00"),
                           url="/demo/#HOODIE-1", image_url="/static/h.svg")
    return agent, _active_conversation(site, agent)


def test_an_offer_frame_reaches_shopper_and_agent_on_every_change(active, django_capture_on_commit_callbacks):
    agent, conv = active
    with events.collecting() as bucket, django_capture_on_commit_callbacks(execute=True):
        offer, created = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Add the hoodie",
                                                                  "sku": "HOODIE-1"})
    assert created and offer.status == "proposed"
    sent = _frames(bucket)
    groups = {g for g, f in sent if f["type"] == "offer"}
    assert groups == {events.visitor_group(conv.visitor.public_id), events.agent_group(agent.id)}
    with events.collecting() as bucket, django_capture_on_commit_callbacks(execute=True):
        offers.respond_offer(conv.visitor, offer.id, True)
    accepted = [f for g, f in _frames(bucket) if f["type"] == "offer"]
    assert len(accepted) == 2 and {f["offer"]["status"] for f in accepted} == {"accepted"}


def test_the_accepted_offer_carries_what_a_store_needs(active, django_capture_on_commit_callbacks):
    agent, conv = active
    offer, _ = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Add the hoodie", "sku": "HOODIE-1"})
    with events.collecting() as bucket, django_capture_on_commit_callbacks(execute=True):
        offers.respond_offer(conv.visitor, offer.id, True)
    payload = [f for g, f in _frames(bucket) if g.startswith("visitor.")][0]["offer"]
    # The price defaults to the catalogue's; money is a string.
    assert {k: payload[k] for k in ("kind", "title", "sku", "price", "discount_code", "status", "currency")} == {
        "kind": "upsell", "title": "Add the hoodie", "sku": "HOODIE-1", "price": "54.00", "discount_code": None,
        "status": "accepted", "currency": "USD"}
    assert payload["product"] == {"sku": "HOODIE-1", "name": "Fleece hoodie", "price": "54.00",
                                  "url": "/demo/#HOODIE-1", "image_url": "/static/h.svg"}


def test_a_discount_offer_carries_its_code(active):
    agent, conv = active
    offer, _ = offers.make_offer(agent, conv.id, "o2", {"kind": "discount", "title": "10% off", "discount_code": "SAVE10"})
    offers.respond_offer(conv.visitor, offer.id, True)
    from chatdesk.serialize import offer_dict

    d = offer_dict(Offer.objects.get(pk=offer.id))
    assert (d["kind"], d["discount_code"], d["sku"], d["product"], d["status"]) == ("discount", "SAVE10", None, None, "accepted")


def test_an_offer_is_answered_once(active):
    agent, conv = active
    offer, _ = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Hoodie", "sku": "HOODIE-1"})
    offers.respond_offer(conv.visitor, offer.id, False)
    with pytest.raises(ActionError) as err:
        offers.respond_offer(conv.visitor, offer.id, True)
    assert err.value.code == "offer_closed"
    assert Offer.objects.get(pk=offer.id).status == "declined"


def test_another_visitor_cannot_answer_an_offer(active, site):
    agent, conv = active
    offer, _ = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Hoodie", "sku": "HOODIE-1"})
    with pytest.raises(ActionError) as err:
        offers.respond_offer(Visitor.objects.create(site=site), offer.id, True)
    assert err.value.code == "not_found"
    assert Offer.objects.get(pk=offer.id).status == "proposed"


def test_expiry_task_expires_only_offers_past_their_lifetime(active, site, django_capture_on_commit_callbacks):
    agent, conv = active
    site.offer_lifetime_minutes = 15
    site.save()
    old, _ = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Hoodie", "sku": "HOODIE-1"})
    answered, _ = offers.make_offer(agent, conv.id, "o2", {"kind": "free_shipping", "title": "Free shipping"})
    offers.respond_offer(conv.visitor, answered.id, True)
    now = timezone.now()
    assert expire_offers_task.call_local(now + timedelta(minutes=14)) == 0
    with events.collecting() as bucket, django_capture_on_commit_callbacks(execute=True):
        assert expire_offers_task.call_local(now + timedelta(minutes=16)) == 1
    assert [f["offer"]["status"] for g, f in _frames(bucket) if f["type"] == "offer"] == ["expired", "expired"]
    assert Offer.objects.get(pk=old.id).status == "expired"
    assert Offer.objects.get(pk=answered.id).status == "accepted"
    # Running again (a restarted worker) changes nothing and tells nobody.
    assert offers.expire_offers(now + timedelta(minutes=30)) == 0
    with pytest.raises(ActionError) as err:
        offers.respond_offer(conv.visitor, old.id, True)
    assert err.value.code == "offer_closed"


def test_an_answer_after_the_lifetime_expires_the_offer_even_before_the_task_runs(active):
    agent, conv = active
    offer, _ = offers.make_offer(agent, conv.id, "o1", {"kind": "upsell", "title": "Hoodie", "sku": "HOODIE-1"})
    Offer.objects.filter(pk=offer.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ActionError) as err:
        offers.respond_offer(conv.visitor, offer.id, True)
    assert err.value.code == "offer_closed"
    assert Offer.objects.get(pk=offer.id).status == "expired"


@pytest.mark.parametrize("bad, field", [
    ({"kind": "bogus", "title": "x"}, "offer.kind"),
    ({"kind": "upsell", "title": ""}, "offer.title"),
    ({"kind": "upsell", "title": "no sku"}, "offer.sku"),
    ({"kind": "discount", "title": "no code"}, "offer.discount_code"),
    ({"kind": "upsell", "title": "x", "sku": "A", "price": 9.99}, "offer.price"),
])
def test_a_bad_offer_is_refused_and_stores_nothing(active, bad, field):
    agent, conv = active
    with pytest.raises(ActionError) as err:
        offers.make_offer(agent, conv.id, "bad", bad)
    assert err.value.field == field
    assert not Offer.objects.exists()


async def offer_frame(sock, status):
    """The next `offer` frame with this status (the agent also sees the `proposed` one first)."""
    while True:
        frame = await sock.expect("offer")
        if frame["offer"]["status"] == status:
            return frame


@pytest.mark.django_db(transaction=True)
async def test_offer_round_trip_over_both_sockets(site):
    alice = await sync_to_async(make_agent)("alice", site)
    shopper = await widget()
    agent = await console(alice)
    await shopper.send({"type": "message", "client_id": "c1", "text": "Anything to go with this?"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    await agent.send({"type": "offer", "conversation_id": conv_id, "client_id": "of1",
                      "offer": {"kind": "cross_sell", "title": "Matching cap", "sku": "CAP-1", "price": "15.00"}})
    ack = await agent.expect("ack", client_id="of1")
    shown = await shopper.expect("offer")
    assert shown["offer"]["id"] == ack["offer"]["id"] and shown["offer"]["status"] == "proposed"
    assert shown["offer"]["price"] == "15.00"
    # The same client_id again is the same offer, not a second one.
    await agent.send({"type": "offer", "conversation_id": conv_id, "client_id": "of1",
                      "offer": {"kind": "cross_sell", "title": "Matching cap", "sku": "CAP-1", "price": "15.00"}})
    again = await agent.expect("ack", client_id="of1")
    assert again["offer"]["id"] == ack["offer"]["id"]
    await shopper.send({"type": "offer_response", "offer_id": shown["offer"]["id"], "accepted": True})
    assert (await offer_frame(shopper, "accepted"))["offer"]["id"] == ack["offer"]["id"]
    assert (await offer_frame(agent, "accepted"))["offer"]["id"] == ack["offer"]["id"]
    await shopper.send({"type": "offer_response", "offer_id": shown["offer"]["id"], "accepted": False})
    assert (await shopper.expect("error"))["code"] == "offer_closed"
    assert await sync_to_async(Offer.objects.count)() == 1
    await shopper.close()
    await agent.close()
