"""A known history for the reports tests: every figure of the summary is worked out by hand in test_reports_metrics.

Range under test: 2024-05-01 .. 2024-05-07 (UTC). Two sites: shop-a (72 h
attribution window) and shop-b (24 h). Agents alice (shop-a) and bob (both).
Rows outside the range exist on purpose, to prove the edges hold.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from django.contrib.auth import get_user_model

from agents.models import AgentProfile
from chatdesk.models import (
    Cart, CartEvent, Conversation, FollowUp, FollowUpStep, InterventionAssignment, Offer, Order, Visitor,
)

from .conftest import make_site


def make_agent(username: str, site, capacity: int = 5):
    """An agent without a password: hashing one costs over a second, and these tests never log in with it."""
    user = get_user_model().objects.create(username=username)
    AgentProfile.objects.create(user=user, display_name=username.title(), capacity=capacity).sites.add(site)
    return user


def at(text: str) -> datetime:
    """'05-02 10:00' or '04-30 23:59:59' in May 2024 (or April), UTC."""
    month_day, clock = text.split(" ")
    month, day = (int(x) for x in month_day.split("-"))
    parts = [int(x) for x in clock.split(":")] + [0]
    return datetime(2024, month, day, parts[0], parts[1], parts[2], tzinfo=timezone.utc)


def conversation(site, visitor, agent, created, status="closed", wait=None, response=None, reason="",
                 rating=None, cart=None) -> Conversation:
    created_at = at(created)
    conv = Conversation.objects.create(
        site=site, visitor=visitor, agent=agent, status=status, queued_at=created_at, cart=cart,
        first_assigned_at=created_at + timedelta(seconds=wait) if wait is not None else None,
        assigned_at=created_at + timedelta(seconds=wait) if wait is not None else None,
        first_agent_message_at=created_at + timedelta(seconds=response) if response is not None else None,
        closed_at=created_at + timedelta(minutes=30) if status in ("closed", "missed") else None,
        close_reason=reason, rating=rating,
    )
    Conversation.objects.filter(pk=conv.pk).update(created_at=created_at)  # auto_now_add otherwise
    conv.created_at = created_at
    return conv


def cart(site, visitor, max_step, created, abandoned_at=None, ordered_at=None, token=None) -> Cart:
    c = Cart.objects.create(
        site=site, cart_token=token or f"k-{created}-{max_step}-{visitor.pk if visitor else 'x'}", visitor=visitor,
        checkout_step=max_step, max_step_reached=max_step, total=Decimal("50.00"),
        abandoned_at=at(abandoned_at) if abandoned_at else None, ordered_at=at(ordered_at) if ordered_at else None,
    )
    Cart.objects.filter(pk=c.pk).update(created_at=at(created))
    return c


def abandoned_event(c: Cart, when: str) -> None:
    CartEvent.objects.create(cart=c, kind=CartEvent.ABANDONED, created_at=at(when))


def order(site, order_id, total, created, visitor=None, conv=None, cart_=None, offer_revenue="0.00") -> Order:
    return Order.objects.create(
        site=site, order_id=order_id, currency="USD", total=Decimal(total), created_at=at(created),
        visitor=visitor, conversation=conv, cart=cart_, offer_revenue=Decimal(offer_revenue),
        attributed_at=at(created) if conv else None,
    )


def offer(conv, agent, kind, status, created, sku="SKU-1", code="") -> Offer:
    o = Offer.objects.create(conversation=conv, agent=agent, kind=kind, title=kind, sku=sku, discount_code=code,
                             price=Decimal("10.00"), status=status)
    Offer.objects.filter(pk=o.pk).update(created_at=at(created))
    return o


def sent_followup(c: Cart, step: FollowUpStep, sent: str) -> FollowUp:
    return FollowUp.objects.create(cart=c, step=step, channel=step.channel, status=FollowUp.SENT,
                                   due_at=at(sent), sent_at=at(sent), recipient="shopper@example.com")


def assign(visitor, arm, when) -> InterventionAssignment:
    return InterventionAssignment.objects.create(visitor=visitor, site=visitor.site, arm=arm,
                                                 first_trigger="shipping-shock", assigned_at=at(when))


def build_history() -> dict:
    a = make_site("shop-a", attribution_window_hours=72)
    b = make_site("shop-b", attribution_window_hours=24)
    alice = make_agent("alice", a)
    bob = make_agent("bob", a)
    bob.agent_profile.sites.add(b)
    V = {}
    for n in list(range(1, 10)) + list(range(20, 28)) + [30]:
        V[n] = Visitor.objects.create(site=a)
    for n in (10, 23, 24):
        V[n] = Visitor.objects.create(site=b)

    k7 = cart(a, None, "shipping", "05-03 13:00", token="k7-linked")
    C = {
        1: conversation(a, V[1], alice, "05-02 10:00", wait=20, response=30, reason="extra_costs", rating=5),
        2: conversation(a, V[2], alice, "05-02 10:00", wait=40, response=60, reason="extra_costs", rating=3),
        3: conversation(a, V[3], bob, "05-02 10:00", wait=60, response=90, reason="delivery_slow", rating=4),
        4: conversation(a, V[4], bob, "05-03 14:00", wait=100, response=150, reason="other", cart=k7),
        5: conversation(a, V[5], None, "05-04 09:00", status="missed"),
        6: conversation(a, V[6], alice, "05-07 23:00", status="active", wait=10),
        7: conversation(a, V[7], bob, "05-06 11:00", wait=200, response=240, reason="card_declined", rating=1),
        8: conversation(a, V[8], alice, "04-30 23:59:59", wait=5, response=5, reason="other", rating=5),
        9: conversation(a, V[9], alice, "05-08 00:00", wait=5, response=5, reason="other", rating=5),
        10: conversation(b, V[10], bob, "05-05 15:00", wait=30, response=45, reason="returns_policy", rating=5),
    }

    K = {
        1: cart(a, V[20], "payment", "05-03 09:00", ordered_at="05-03 10:00"),
        2: cart(a, V[21], "contact", "05-03 11:00"),
        3: cart(a, V[22], "shipping", "05-01 00:00", ordered_at="05-05 00:00"),
        4: cart(a, None, "cart", "05-03 09:30"),
        5: cart(a, V[1], "review", "05-02 09:00"),
        6: cart(b, V[23], "contact", "05-04 00:00", ordered_at="05-04 12:00"),
        7: k7,
        8: cart(a, V[2], "payment", "05-01 08:00", abandoned_at="05-02 08:00"),
        9: cart(a, V[3], "shipping", "05-01 09:00", abandoned_at="05-02 09:00"),
        10: cart(b, V[24], "contact", "05-03 20:00"),
        11: cart(a, V[25], "payment", "04-29 12:00"),
        12: cart(a, V[26], "contact", "05-05 09:00"),
        13: cart(a, V[27], "cart", "05-02 12:00", abandoned_at="05-03 12:00"),
    }
    abandoned_event(K[2], "05-03 12:00")
    abandoned_event(K[9], "05-02 09:00")
    abandoned_event(K[10], "05-04 01:00")
    abandoned_event(K[11], "04-30 10:00")
    abandoned_event(K[12], "05-05 10:00")
    step_a = FollowUpStep.objects.create(site=a, channel=FollowUpStep.EMAIL, delay_minutes=60)
    step_b = FollowUpStep.objects.create(site=b, channel=FollowUpStep.EMAIL, delay_minutes=60)
    sent_followup(K[10], step_b, "05-04 02:00")
    sent_followup(K[12], step_a, "05-05 11:00")

    O = {
        1: order(a, "O1", "100.00", "05-02 11:00", visitor=V[1], conv=C[1], offer_revenue="20.00"),
        2: order(a, "O2", "60.00", "05-02 12:00", visitor=V[3], conv=C[3]),
        3: order(b, "O3", "80.00", "05-05 16:00", visitor=V[10], conv=C[10], offer_revenue="15.50"),
        4: order(a, "O4", "50.00", "05-03 10:00", cart_=K[1]),
        5: order(a, "O5", "30.00", "05-05 00:00", visitor=V[22], cart_=K[3]),
        6: order(b, "O6", "40.00", "05-04 10:00", visitor=V[24], cart_=K[10]),
        7: order(a, "O7", "999.00", "05-08 01:00", visitor=V[2], conv=C[2]),
        8: order(a, "O8", "500.00", "04-30 12:00", visitor=V[8], conv=C[8]),
    }

    F = [
        offer(C[1], alice, "upsell", Offer.ACCEPTED, "05-02 10:05"),
        offer(C[1], alice, "discount", Offer.DECLINED, "05-02 10:06", sku="", code="SAVE10"),
        offer(C[3], bob, "bundle", Offer.ACCEPTED, "05-02 10:10"),
        offer(C[7], bob, "cross_sell", Offer.EXPIRED, "05-06 11:10"),
        offer(C[10], bob, "free_shipping", Offer.PROPOSED, "05-05 15:10", sku=""),
        offer(C[9], alice, "upsell", Offer.ACCEPTED, "05-08 00:05"),
    ]

    T, H = InterventionAssignment.TREATMENT, InterventionAssignment.HOLDOUT
    assign(V[20], T, "05-03 08:00")
    assign(V[21], T, "05-03 11:00")
    assign(V[24], T, "05-04 00:30")
    assign(V[26], T, "05-05 08:00")
    assign(V[22], H, "05-01 00:00")
    assign(V[25], H, "05-02 00:00")
    assign(V[3], H, "05-02 09:30")
    assign(V[27], T, "04-30 12:00")
    return {"sites": (a, b), "alice": alice, "bob": bob, "visitors": V, "conversations": C, "carts": K,
            "orders": O, "offers": F}
