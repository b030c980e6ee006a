"""Privacy: erasing a visitor on request and the retention purge redact what identifies people and keep the figures."""
from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chatdesk.actions import carts, conversations, offers, privacy, visitors
from chatdesk.models import (
    CallTask, Cart, CartSnapshot, Conversation, FollowUp, FollowUpStep, Message, Note, Order, OrderLine, PageView,
    Product, Visitor,
)

from .conftest import make_agent, make_site

pytestmark = pytest.mark.django_db

SECRET = "Ship to 12 Elm Street, call me on +1 555 0100"


def shopper_with_history(site, agent, email="ada@example.com", tag="a"):
    """A visitor who identified, browsed, filled a cart, chatted, was offered, rated, ordered and was followed up."""
    visitor = Visitor.objects.create(site=site)
    visitors.identify(visitor, email, "Ada Lovelace", "+1 555 0100", True, True)
    visitors.record_page(visitor, f"https://shop.example/checkout?email={email}", "Checkout: Ada", "contact")
    cart = carts.record_widget_cart(visitor, {"cart_token": f"cart-{tag}", "checkout_step": "contact", "items": [
        {"sku": "TEE-1", "name": "T-shirt", "quantity": 2, "unit_price": "19.99"}], "shipping": "5.00"})
    Cart.objects.filter(pk=cart.pk).update(email=email, phone="+1 555 0100", recovery_url="https://shop.example/r/1")
    CartSnapshot.objects.create(cart=cart, source="shopify", data={"email": email, "total": "44.98",
                                                                     "shipping_address": {"address1": "12 Elm"}})
    msg, _ = conversations.post_shopper_message(visitor, f"{tag}-1", SECRET)
    conv_id = msg.conversation_id
    conversations.claim(agent, conv_id)
    conversations.post_agent_message(agent, conv_id, f"{tag}-2", "Noted, Ada: 12 Elm Street.")
    conversations.add_note(agent, conv_id, f"{tag}-3", "VIP, lives on Elm Street")
    offers.make_offer(agent, conv_id, f"{tag}-4", {"kind": "upsell", "title": "Hoodie", "sku": "TEE-1", "price": "9.00"})
    conversations.close(agent, conv_id, "extra_costs", "Ada found shipping too high")
    conversations.rate(visitor, 4, "Thanks, Ada here")
    order = Order.objects.create(site=site, order_id=f"o-{tag}", cart=cart, visitor=visitor, currency="USD",
                                 total=Decimal("44.98"), created_at=timezone.now(), email=email,
                                 conversation_id=conv_id)
    OrderLine.objects.create(order=order, sku="TEE-1", name="T-shirt", quantity=2, unit_price=Decimal("19.99"))
    step = FollowUpStep.objects.create(site=site, channel="call", delay_minutes=30)
    followup = FollowUp.objects.create(cart=cart, step=step, channel="call", due_at=timezone.now(), recipient=email)
    CallTask.objects.create(followup=followup, cart=cart, note="Ada asked to call after 6pm")
    visitor.refresh_from_db()
    return visitor, conv_id


def figures(site):
    """What reports are made of: counts, seqs, statuses, reasons, ratings, money."""
    convs = Conversation.objects.filter(site=site).order_by("pk")
    return {
        "conversations": list(convs.values_list("status", "close_reason", "rating", "last_seq", "agent_id")),
        "messages": list(Message.objects.filter(conversation__site=site).order_by("pk").values_list("seq", "sender")),
        "notes": Note.objects.filter(conversation__site=site).count(),
        "orders": list(Order.objects.filter(site=site).order_by("pk").values_list("order_id", "total", "conversation_id")),
        "lines": list(OrderLine.objects.filter(order__site=site).values_list("sku", "quantity", "unit_price")),
        "carts": list(Cart.objects.filter(site=site).order_by("pk").values_list("total", "checkout_step", "items")),
        "page_views": PageView.objects.filter(visitor__site=site).count(),
        "offers": list(conversations.Conversation.objects.filter(site=site).values_list("offers__status", "offers__price")),
    }


def report_summary(site):
    from chatdesk.reports.metrics import summary
    from chatdesk.reports.scope import parse_scope

    today = timezone.now().date()
    return summary(parse_scope({"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)),
                                "site": site.key}))


def _everything_text(visitor, conv_id) -> str:
    """Every stored string that could identify the shopper, joined for a search."""
    parts = list(Message.objects.filter(conversation_id=conv_id).values_list("text", flat=True))
    parts += list(Note.objects.filter(conversation_id=conv_id).values_list("text", flat=True))
    conv = Conversation.objects.get(pk=conv_id)
    parts += [conv.close_note, conv.rating_comment, visitor.name, visitor.email, visitor.phone, visitor.current_url,
              visitor.current_title]
    parts += [f"{p.url} {p.title}" for p in PageView.objects.filter(visitor=visitor)]
    for cart in Cart.objects.filter(visitor=visitor):
        parts += [cart.email, cart.phone, cart.recovery_url, json.dumps(list(cart.snapshots.values_list("data", flat=True)))]
        parts += list(FollowUp.objects.filter(cart=cart).values_list("recipient", flat=True))
        parts += list(CallTask.objects.filter(cart=cart).values_list("note", flat=True))
    parts += list(Order.objects.filter(visitor=visitor).values_list("email", flat=True))
    return " ".join(str(p) for p in parts)


def test_forgetting_a_visitor_redacts_what_identifies_them_and_keeps_every_figure():
    site = make_site()
    Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
    alice = make_agent("alice", site)
    ada, conv_id = shopper_with_history(site, alice)
    bob_visitor, bob_conv = shopper_with_history(site, alice, email="bob@example.com", tag="b")
    token = visitors.make_visitor_token(ada)
    before, report_before = figures(site), report_summary(site)
    bob_before = _everything_text(bob_visitor, bob_conv)
    assert "Elm" in _everything_text(ada, conv_id) and "ada@example.com" in _everything_text(ada, conv_id)

    out = io.StringIO()
    call_command("forget_visitor", site=site.key, visitor=str(ada.public_id), stdout=out)
    done = json.loads(out.getvalue())
    assert done["messages"] == 2 and done["notes"] == 1 and done["visitors"] == 1

    ada.refresh_from_db()
    text = _everything_text(ada, conv_id)
    for secret in ("Elm", "Ada", "ada@example.com", "555", "6pm", "shop.example"):
        assert secret not in text, f"{secret!r} survived the erasure"
    assert set(Message.objects.filter(conversation_id=conv_id).values_list("text", flat=True)) == {privacy.REDACTED}
    assert ada.redacted_at is not None and not ada.consent_email and not ada.consent_sms
    # Every figure is as it was, down to the report.
    assert figures(site) == before
    assert report_summary(site) == report_before
    # The browser's old token no longer leads to this history.
    assert visitors.visitor_from_token(site, token) is None
    # Nobody else was touched.
    assert _everything_text(bob_visitor, bob_conv) == bob_before


def test_forgetting_by_email_reaches_carts_and_orders_that_have_no_visitor():
    site = make_site()
    alice = make_agent("alice", site)
    Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
    ada, _ = shopper_with_history(site, alice)
    cart = Cart.objects.create(site=site, cart_token="store-only", email="ADA@example.com", total=Decimal("10.00"))
    order = Order.objects.create(site=site, order_id="phone-order", currency="USD", total=Decimal("10.00"),
                                 created_at=timezone.now(), email="ada@example.com")
    out = io.StringIO()
    call_command("forget_visitor", site=site.key, email="Ada@Example.com", stdout=out)
    assert json.loads(out.getvalue())["visitors"] == 1
    cart.refresh_from_db()
    order.refresh_from_db()
    assert cart.email == "" and order.email == "" and order.total == Decimal("10.00")


def test_a_dry_run_counts_and_changes_nothing():
    site = make_site()
    Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
    ada, conv_id = shopper_with_history(site, make_agent("alice", site))
    before = _everything_text(ada, conv_id)
    out = io.StringIO()
    call_command("forget_visitor", site=site.key, visitor=str(ada.public_id), dry_run=True, stdout=out)
    assert json.loads(out.getvalue())["messages"] == 2
    ada.refresh_from_db()
    assert _everything_text(ada, conv_id) == before and ada.redacted_at is None


def test_forget_visitor_refuses_what_it_cannot_find_with_a_clear_error():
    site = make_site()
    with pytest.raises(CommandError, match="no site"):
        call_command("forget_visitor", site="nope", email="x@example.com")
    with pytest.raises(CommandError, match="UUID"):
        call_command("forget_visitor", site=site.key, visitor="not-a-uuid")
    with pytest.raises(CommandError, match="no visitor"):
        call_command("forget_visitor", site=site.key, visitor="6f1c1d8e-0000-4000-8000-000000000000")
    with pytest.raises(CommandError, match="nothing on"):
        call_command("forget_visitor", site=site.key, email="nobody@example.com")


def _age(visitor, conv_id, days):
    then = timezone.now() - timedelta(days=days)
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=then, created_at=then)
    Conversation.objects.filter(pk=conv_id).update(created_at=then, last_message_at=then)
    PageView.objects.filter(visitor=visitor).update(created_at=then)
    Cart.objects.filter(visitor=visitor).update(updated_at=then)
    CartSnapshot.objects.filter(cart__visitor=visitor).update(received_at=then)
    Order.objects.filter(visitor=visitor).update(created_at=then)


def test_the_retention_purge_erases_only_what_is_older_than_the_site_keeps():
    site = make_site(retention_days=30)
    Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
    alice = make_agent("alice", site)
    gone, gone_conv = shopper_with_history(site, alice, email="gone@example.com", tag="g")
    recent, recent_conv = shopper_with_history(site, alice, email="recent@example.com", tag="r")
    regular, old_conv = shopper_with_history(site, alice, email="regular@example.com", tag="o")
    _age(gone, gone_conv, 40)
    _age(recent, recent_conv, 10)
    _age(regular, old_conv, 40)
    Visitor.objects.filter(pk=regular.pk).update(last_seen_at=timezone.now())  # came back yesterday
    counts = figures(site)["messages"]

    done = privacy.purge_expired()
    assert done.visitors == 1
    gone.refresh_from_db()
    assert gone.redacted_at and gone.email == ""
    assert "gone@example.com" not in _everything_text(gone, gone_conv)
    recent.refresh_from_db()
    assert "Elm" in _everything_text(recent, recent_conv) and recent.email == "recent@example.com"
    # The regular keeps their identity, but their 40-day-old conversation expired.
    regular.refresh_from_db()
    assert regular.email == "regular@example.com"
    assert set(Message.objects.filter(conversation_id=old_conv).values_list("text", flat=True)) == {privacy.REDACTED}
    assert figures(site)["messages"] == counts
    # A second run has nothing left to do.
    again = privacy.purge_expired()
    assert again.visitors == 0 and again.messages == 0


def test_the_nightly_task_purges_and_never_runs_twice_at_once():
    from huey.contrib.djhuey import HUEY

    from chatdesk.tasks.privacy import LOCK, retention_purge_task

    site = make_site(retention_days=1)
    Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
    old, conv_id = shopper_with_history(site, make_agent("alice", site))
    _age(old, conv_id, 5)
    with HUEY.lock_task(LOCK):
        assert retention_purge_task.call_local() is None  # another run holds the lock: skipped
    old.refresh_from_db()
    assert old.redacted_at is None
    result = retention_purge_task.call_local()
    assert result["visitors"] == 1
    old.refresh_from_db()
    assert old.redacted_at is not None
