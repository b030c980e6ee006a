"""Attribution and follow-ups through the store's doors: POST /api/v1/orders/ (twice, updated), PUT carts."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from chatdesk.actions import followups
from chatdesk.actions.abandonment import detect_abandoned
from chatdesk.models import Cart, FollowUp, Offer, Order, Visitor
from chatdesk.serialize import iso

from .conftest import make_agent
from .followup_helpers import step
from .test_attribution import T0, make_conversation

KEY = "key-demo-store"
HOODIES = {"sku": "HOODIE-1", "name": "Fleece hoodie", "quantity": 2, "unit_price": "54.00"}
TEE = {"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 1, "unit_price": "19.99"}


def api(method, path, body):
    return getattr(Client(), method)(path, data=json.dumps(body), content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {KEY}")


def order_body(order_id="5001", items=(TEE,), total="19.99", **extra):
    body = {"order_id": order_id, "currency": "USD", "total": total, "items": list(items),
            "created_at": iso(timezone.now())}
    body.update(extra)
    return body


@pytest.fixture
def chatted(site):
    """A visitor who talked to an agent an hour ago and accepted a hoodie upsell and a SAVE10 code."""
    visitor = Visitor.objects.create(site=site)
    agent = make_agent("alice", site)
    an_hour_ago = (timezone.now() - timedelta(hours=1) - T0).total_seconds() / 3600  # make_conversation counts from T0
    conv = make_conversation(site, visitor, agent, an_hour_ago, offers=[
        ("upsell", "HOODIE-1", None, Offer.ACCEPTED), ("discount", None, "SAVE10", Offer.ACCEPTED)])
    return visitor, conv


def test_an_order_posted_twice_is_attributed_once_with_the_same_figures(site, chatted):
    visitor, conv = chatted
    body = order_body(items=[HOODIES, TEE], total="135.49", visitor_id=str(visitor.public_id))
    assert api("post", "/api/v1/orders/", body).status_code in (200, 201)
    first = Order.objects.get(order_id="5001")
    assert (first.conversation_id, first.offer_revenue) == (conv.id, Decimal("108.00"))
    assert api("post", "/api/v1/orders/", body).status_code in (200, 201)
    again = Order.objects.get(order_id="5001")
    assert Order.objects.count() == 1 and Order.objects.filter(conversation=conv).count() == 1
    assert (again.conversation_id, again.offer_revenue, again.attributed_at) == (
        first.conversation_id, first.offer_revenue, first.attributed_at)


def test_an_updated_order_is_recomputed_not_added_to(site, chatted):
    visitor, conv = chatted
    vid = str(visitor.public_id)
    api("post", "/api/v1/orders/", order_body(items=[TEE], total="19.99", visitor_id=vid))
    assert Order.objects.get().offer_revenue == Decimal("0.00")       # accepted but not bought
    api("post", "/api/v1/orders/", order_body(items=[HOODIES, TEE], total="135.49", visitor_id=vid))
    assert Order.objects.get().offer_revenue == Decimal("108.00")     # the hoodies were added
    api("post", "/api/v1/orders/", order_body(items=[HOODIES, TEE], total="121.94", visitor_id=vid,
                                              discount_codes=["save10"]))
    order = Order.objects.get()
    assert (order.conversation_id, order.offer_revenue) == (conv.id, Decimal("121.94"))  # the code: the total


def test_an_order_matched_only_by_a_cart_token_linked_to_the_visitor(site, chatted):
    visitor, conv = chatted
    cart = {"currency": "USD", "items": [HOODIES], "total": "115.50", "checkout_step": "payment",
            "visitor_id": str(visitor.public_id)}
    assert api("put", "/api/v1/carts/tok-777/", cart).status_code in (200, 201)
    api("post", "/api/v1/orders/", order_body(items=[HOODIES], total="115.50", cart_token="tok-777"))
    order = Order.objects.get()
    assert order.cart.cart_token == "tok-777"
    assert (order.conversation_id, order.offer_revenue) == (conv.id, Decimal("108.00"))


def test_an_order_of_a_visitor_without_an_agent_conversation_is_not_attributed(site):
    visitor = Visitor.objects.create(site=site)
    api("post", "/api/v1/orders/", order_body(visitor_id=str(visitor.public_id)))
    order = Order.objects.get()
    assert (order.conversation_id, order.attributed_at, order.offer_revenue) == (None, None, Decimal("0.00"))


def test_store_cart_abandoned_then_followed_up_then_ordered_stops_the_next_steps(site):
    """PUT cart (with consent) -> abandonment task -> email step -> the order arrives -> the SMS step is skipped."""
    HUEY.immediate = True
    try:
        step(site, "email", delay=60)
        step(site, "sms", delay=180)
        cart = {"currency": "USD", "items": [HOODIES], "total": "115.50", "checkout_step": "contact",
                "email": "ann@example.com", "phone": "+14155550100", "consent_email": True, "consent_sms": True,
                "recovery_url": "https://shop.example.com/checkouts/tok-9/recover"}
        assert api("put", "/api/v1/carts/tok-9/", cart).status_code in (200, 201)
        later = timezone.now() + timedelta(minutes=31)
        assert [c.cart_token for c in detect_abandoned(later)] == ["tok-9"]
        for minutes in (91, 95):   # the scheduler ticks twice past the email's time
            followups.scan_followups(later + timedelta(minutes=minutes))
            for pk in followups.due_pending_ids(later + timedelta(minutes=minutes)):
                followups.deliver_followup(pk, later + timedelta(minutes=minutes))
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]
        token = followups.recovery_token(FollowUp.objects.get(channel="email"))
        assert Client().get(f"/r/{token}/")["Location"] == "https://shop.example.com/checkouts/tok-9/recover"

        api("post", "/api/v1/orders/", order_body(items=[HOODIES], total="115.50", cart_token="tok-9"))
        assert Cart.objects.get(cart_token="tok-9").ordered_at is not None
        at = later + timedelta(minutes=200)
        followups.scan_followups(at)
        for pk in followups.due_pending_ids(at):
            followups.deliver_followup(pk, at)
        assert len(mail.outbox) == 1 and not FollowUp.objects.filter(channel="sms").exists()
    finally:
        HUEY.immediate = False
