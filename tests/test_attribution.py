"""Attribution against a hand-computed table (METRICS.md): last touch, window, matching, offer revenue, idempotency."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest

from chatdesk.attribution import LineValue, attribute_order, compute_offer_revenue
from chatdesk.models import Cart, Conversation, Message, Note, Offer, Order, OrderLine, Visitor

from .conftest import make_agent

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=dt_timezone.utc)  # every order in the table is placed at T0 + hours


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def make_conversation(site, visitor, agent, started_h: float, agent_msg=True, offers=(), shopper_msg=True,
                      system_msg=False, note=False) -> Conversation:
    started = at(started_h)
    conv = Conversation.objects.create(site=site, visitor=visitor, queued_at=started, agent=agent,
                                       status=Conversation.CLOSED)
    Conversation.objects.filter(pk=conv.pk).update(created_at=started)
    seq = 0
    for sender, wanted in ((Message.SHOPPER, shopper_msg), (Message.SYSTEM, system_msg), (Message.AGENT, agent_msg)):
        if wanted:
            seq += 1
            Message.objects.create(conversation=conv, seq=seq, sender=sender, text=f"{sender} says hi",
                                   created_at=started + timedelta(minutes=seq))
    if note:
        Note.objects.create(conversation=conv, author=agent, author_name="A", text="internal")
    for kind, sku, code, status in offers:
        Offer.objects.create(conversation=conv, agent=agent, kind=kind, title=f"{kind} {sku or code}", sku=sku or "",
                             discount_code=code or "", price=Decimal("10.00"), status=status)
    conv.refresh_from_db()
    return conv


def make_order(site, order_id="1001", visitor=None, cart=None, hours=0.0, total="100.00", lines=(), codes=()):
    order = Order.objects.create(site=site, order_id=order_id, visitor=visitor, cart=cart, currency="USD",
                                 total=Decimal(total), discount_codes=list(codes), created_at=at(hours))
    for sku, qty, price in lines:
        OrderLine.objects.create(order=order, sku=sku, name=sku, quantity=qty, unit_price=Decimal(price))
    return order


A, D, P, X = Offer.ACCEPTED, Offer.DECLINED, Offer.PROPOSED, Offer.EXPIRED
HOODIE = ("HOODIE-1", 2, "54.00")   # 108.00
TEE = ("TEE-1", 1, "19.99")         # 19.99
CAP = ("CAP-1", 3, "17.50")         # 52.50

# Each case: conversations (label -> visitor, start hour relative to the order, agent message?, offers),
# the order (matched by visitor "V", by a cart linked to a visitor, or both), and the hand-computed result:
# which conversation gets the order and the offer revenue.
CASES = {
    "inside the window": dict(
        convs={"c1": ("V", -2, True, [])}, order=dict(visitor="V"), expect=("c1", "0.00")),
    "outside the window (73 h before, window 72 h)": dict(
        convs={"c1": ("V", -73, True, [])}, order=dict(visitor="V"), expect=(None, "0.00")),
    "exactly at the window's edge counts": dict(
        convs={"c1": ("V", -72, True, [])}, order=dict(visitor="V"), expect=("c1", "0.00")),
    "window is the site's setting (24 h)": dict(
        convs={"c1": ("V", -30, True, [])}, order=dict(visitor="V"), window=24, expect=(None, "0.00")),
    "two conversations: last touch wins": dict(
        convs={"c1": ("V", -10, True, []), "c2": ("V", -2, True, [])}, order=dict(visitor="V"), expect=("c2", "0.00")),
    "a later conversation without an agent message is no touch": dict(
        convs={"c1": ("V", -10, True, []), "c2": ("V", -2, False, [])}, order=dict(visitor="V"), expect=("c1", "0.00")),
    "conversation without agent message": dict(
        convs={"c1": ("V", -2, False, [])}, order=dict(visitor="V"), expect=(None, "0.00")),
    "conversation started after the order": dict(
        convs={"c1": ("V", 1, True, [])}, order=dict(visitor="V"), expect=(None, "0.00")),
    "conversation started after the order does not beat an earlier one": dict(
        convs={"c1": ("V", -5, True, []), "c2": ("V", 1, True, [])}, order=dict(visitor="V"), expect=("c1", "0.00")),
    "matched by cart token linked to the visitor": dict(
        convs={"c1": ("V", -2, True, [])}, order=dict(cart_visitor="V"), expect=("c1", "0.00")),
    "matched by visitor id without a cart": dict(
        convs={"c1": ("V", -2, True, [])}, order=dict(visitor="V"), expect=("c1", "0.00")),
    "cart linked to another visitor: the most recent of both visitors' conversations": dict(
        convs={"c1": ("V", -6, True, []), "c2": ("W", -1, True, [])}, order=dict(visitor="V", cart_visitor="W"),
        expect=("c2", "0.00")),
    "cart without a visitor and no visitor id: nothing to match": dict(
        convs={"c1": ("V", -2, True, [])}, order=dict(cart_visitor=None, cart=True), expect=(None, "0.00")),
    "another visitor's conversation never counts": dict(
        convs={"c1": ("W", -2, True, [])}, order=dict(visitor="V"), expect=(None, "0.00")),
    "accepted upsell bought: its lines count (2 x 54.00)": dict(
        convs={"c1": ("V", -2, True, [("upsell", "HOODIE-1", None, A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE], total="135.49"), expect=("c1", "108.00")),
    "offers accepted but not bought": dict(
        convs={"c1": ("V", -2, True, [("cross_sell", "CAP-1", None, A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE], total="135.49"), expect=("c1", "0.00")),
    "declined, proposed and expired offers count nothing": dict(
        convs={"c1": ("V", -2, True, [("upsell", "HOODIE-1", None, D), ("upsell", "TEE-1", None, P),
                                      ("bundle", "CAP-1", None, X)])},
        order=dict(visitor="V", lines=[HOODIE, TEE, CAP], total="180.49"), expect=("c1", "0.00")),
    "two accepted offers of one SKU count its line once": dict(
        convs={"c1": ("V", -2, True, [("upsell", "HOODIE-1", None, A), ("bundle", "HOODIE-1", None, A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE], total="135.49"), expect=("c1", "108.00")),
    "two accepted offers of two SKUs: both lines (108.00 + 52.50)": dict(
        convs={"c1": ("V", -2, True, [("upsell", "HOODIE-1", None, A), ("cross_sell", "CAP-1", None, A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE, CAP], total="180.49"), expect=("c1", "160.50")),
    "discount code redeemed: the whole order total": dict(
        convs={"c1": ("V", -2, True, [("discount", None, "SAVE10", A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE], total="121.94", codes=["SAVE10"]), expect=("c1", "121.94")),
    "discount code compared without case": dict(
        convs={"c1": ("V", -2, True, [("discount", None, "SAVE10", A)])},
        order=dict(visitor="V", lines=[TEE], total="17.99", codes=["save10"]), expect=("c1", "17.99")),
    "discount offer accepted but the order carries another code": dict(
        convs={"c1": ("V", -2, True, [("discount", None, "SAVE10", A)])},
        order=dict(visitor="V", lines=[TEE], total="17.99", codes=["WELCOME5"]), expect=("c1", "0.00")),
    "discount offer accepted, no code on the order": dict(
        convs={"c1": ("V", -2, True, [("discount", None, "SAVE10", A)])},
        order=dict(visitor="V", lines=[TEE], total="19.99"), expect=("c1", "0.00")),
    "declined discount offer with the code used anyway": dict(
        convs={"c1": ("V", -2, True, [("discount", None, "SAVE10", D)])},
        order=dict(visitor="V", lines=[TEE], total="17.99", codes=["SAVE10"]), expect=("c1", "0.00")),
    "discount and upsell both matched: the total, not total plus line": dict(
        convs={"c1": ("V", -2, True, [("upsell", "HOODIE-1", None, A), ("discount", None, "SAVE10", A)])},
        order=dict(visitor="V", lines=[HOODIE, TEE], total="121.94", codes=["SAVE10"]), expect=("c1", "121.94")),
    "offers of an earlier, not attributed, conversation do not count": dict(
        convs={"c1": ("V", -20, True, [("upsell", "HOODIE-1", None, A)]), "c2": ("V", -2, True, [])},
        order=dict(visitor="V", lines=[HOODIE], total="108.00"), expect=("c2", "0.00")),
    "offer accepted in a conversation outside the window does not count": dict(
        convs={"c1": ("V", -100, True, [("upsell", "HOODIE-1", None, A)])},
        order=dict(visitor="V", lines=[HOODIE], total="108.00"), expect=(None, "0.00")),
}


def build(site, case):
    agent = make_agent("agent-a", site)
    visitors = {name: Visitor.objects.create(site=site) for name in ("V", "W")}
    if "window" in case:
        site.attribution_window_hours = case["window"]
        site.save()
    convs = {}
    for label, (who, start, agent_msg, offers) in case["convs"].items():
        convs[label] = make_conversation(site, visitors[who], agent, start, agent_msg=agent_msg, offers=offers)
    spec = case["order"]
    cart = None
    if "cart_visitor" in spec or spec.get("cart"):
        owner = visitors.get(spec.get("cart_visitor")) if spec.get("cart_visitor") else None
        cart = Cart.objects.create(site=site, cart_token="tok-1", visitor=owner)
    order = make_order(site, visitor=visitors.get(spec.get("visitor")), cart=cart, lines=spec.get("lines", ()),
                       total=spec.get("total", "100.00"), codes=spec.get("codes", ()))
    return order, convs


@pytest.mark.parametrize("name", list(CASES))
def test_attribution_table(site, name):
    case = CASES[name]
    order, convs = build(site, case)
    attribute_order(order)
    order.refresh_from_db()
    want_conv, want_revenue = case["expect"]
    assert order.conversation_id == (convs[want_conv].id if want_conv else None), name
    assert order.offer_revenue == Decimal(want_revenue), name
    assert (order.attributed_at is not None) == (want_conv is not None)


def test_notes_and_system_lines_are_not_agent_messages(site):
    agent = make_agent("agent-a", site)
    v = Visitor.objects.create(site=site)
    make_conversation(site, v, agent, -1, agent_msg=False, system_msg=True, note=True)
    order = make_order(site, visitor=v)
    attribute_order(order)
    assert Order.objects.get(pk=order.pk).conversation_id is None


def test_the_same_order_attributed_twice_is_unchanged(site):
    order, convs = build(site, CASES["accepted upsell bought: its lines count (2 x 54.00)"])
    attribute_order(order)
    first = Order.objects.get(pk=order.pk)
    attribute_order(Order.objects.get(pk=order.pk))
    second = Order.objects.get(pk=order.pk)
    assert (second.conversation_id, second.offer_revenue, second.attributed_at) == (
        first.conversation_id, first.offer_revenue, first.attributed_at)
    assert Order.objects.filter(conversation=convs["c1"]).count() == 1


def test_an_updated_order_is_recomputed_from_scratch(site):
    order, convs = build(site, CASES["offers accepted but not bought"])
    attribute_order(order)
    assert Order.objects.get(pk=order.pk).offer_revenue == Decimal("0.00")
    # The store edits the order: the offered cap is added (3 x 17.50).
    OrderLine.objects.create(order=order, sku="CAP-1", quantity=3, unit_price=Decimal("17.50"))
    attribute_order(Order.objects.get(pk=order.pk))
    assert Order.objects.get(pk=order.pk).offer_revenue == Decimal("52.50")
    # And then its date is corrected to four days later: outside the window, nothing is left attributed.
    Order.objects.filter(pk=order.pk).update(created_at=at(96))
    attribute_order(Order.objects.get(pk=order.pk))
    again = Order.objects.get(pk=order.pk)
    assert (again.conversation_id, again.attributed_at, again.offer_revenue) == (None, None, Decimal("0.00"))


def test_a_later_conversation_moves_an_updated_order_to_the_last_touch(site):
    order, convs = build(site, CASES["inside the window"])
    attribute_order(order)
    first_at = Order.objects.get(pk=order.pk).attributed_at
    agent = make_agent("agent-b", site)
    later = make_conversation(site, order.visitor, agent, -0.5)
    attribute_order(Order.objects.get(pk=order.pk))
    again = Order.objects.get(pk=order.pk)
    assert again.conversation_id == later.id
    assert again.attributed_at >= first_at


def test_offer_revenue_plain_function_never_counts_a_line_twice():
    offers = [Offer(kind="upsell", sku="A", status=A), Offer(kind="bundle", sku="A", status=A),
              Offer(kind="cross_sell", sku="B", status=A)]
    lines = [LineValue("A", 2, Decimal("10.00")), LineValue("B", 1, Decimal("5.50")), LineValue("C", 1, Decimal("99"))]
    assert compute_offer_revenue(lines, Decimal("124.50"), [], offers) == Decimal("25.50")
    with_code = offers + [Offer(kind="discount", discount_code="x1", status=A)]
    assert compute_offer_revenue(lines, Decimal("124.50"), [{"code": "X1"}], with_code) == Decimal("124.50")
    assert compute_offer_revenue(lines, Decimal("124.50"), ["X1"], []) == Decimal("0.00")
