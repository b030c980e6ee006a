"""The console's Follow-ups section in Chromium against a real Daphne: call list, missed chats, left messages.

Seeds one call task, one missed chat and one left message, signs in as an agent, records a call outcome and
marks the message done (both checked in the database), opens the missed chat and reads its history. A shopper
name and the left message carry script and HTML payloads, which must show as plain text. Screenshots at
1366x768 go to tests/artifacts/screenshots/followups-*.png.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from chatdesk.actions import conversations
from chatdesk.actions.availability import leave_message
from chatdesk.actions.sweeps import mark_missed
from chatdesk.models import CallTask, Cart, CartEvent, FollowUp, FollowUpStep, LeftMessage, PageView, Visitor

from .conftest import make_agent, make_site
from .console_browser import console_page, shot
from .followup_helpers import abandoned_cart
from .routing_support import make_visitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=15_000)

BIG_ITEMS = [
    {"sku": "COAT-1", "name": "Wool overcoat", "quantity": 1, "unit_price": "249.00"},
    {"sku": "SCARF-2", "name": "Cashmere scarf", "quantity": 1, "unit_price": "89.00"},
    {"sku": "HAT-1", "name": "Beanie", "quantity": 2, "unit_price": "19.00"},
    {"sku": "SOCK-3", "name": "Merino socks", "quantity": 2, "unit_price": "9.50"},
    {"sku": "BAG-1", "name": "Gift bag", "quantity": 1, "unit_price": "0.00"},
]
JOURNEY = [
    ("item_added", {"sku": "COAT-1", "name": "Wool overcoat", "quantity": 1}),
    ("item_added", {"sku": "SCARF-2", "name": "Cashmere scarf", "quantity": 1}),
    ("step_changed", {"from": "cart", "to": "contact"}),
    ("step_changed", {"from": "contact", "to": "shipping"}),
    ("shipping_shown", {"shipping": "12.00"}),
    ("step_changed", {"from": "shipping", "to": "review"}),
    ("step_changed", {"from": "review", "to": "payment"}),
]
NAME_PAYLOAD = '<img src=x onerror="window.__xss=1">Ann <b>Lee</b>'
TEXT_PAYLOAD = "<script>window.__xss=2</script>Do you ship to Norway?\n<img src=y onerror=\"window.__xss=3\"> Thanks!"


def _seed():
    from django.utils import timezone

    site = make_site("demo-store", name="Demo Store")
    make_agent("alice", site)
    # A call: a cart of $135.49 left at payment by a shopper whose name is an HTML payload.
    cart = abandoned_cart(site, phone="+1 (415) 555-0100", consent_sms=True, minutes_ago=250)
    Visitor.objects.filter(pk=cart.visitor_id).update(name=NAME_PAYLOAD)
    CartEvent.objects.create(cart=cart, kind="step_changed", data={"from": "shipping", "to": "payment"},
                             created_at=cart.abandoned_at - timedelta(minutes=3))
    PageView.objects.create(visitor_id=cart.visitor_id, url="https://shop.example.com/checkout/payment", title="Payment")
    step = FollowUpStep.objects.create(site=site, channel="call", delay_minutes=240)
    fu = FollowUp.objects.create(cart=cart, step=step, channel="call", status=FollowUp.SENT, recipient="+1 (415) 555-0100",
                                 due_at=cart.abandoned_at + timedelta(minutes=240))
    task = CallTask.objects.create(followup=fu, cart=cart)
    # A second call, due later: a bigger cart with a longer journey, who stays on the list.
    other = abandoned_cart(site, token="cart-2", email="sam@example.com", phone="+1 415 555 0199", consent_sms=True,
                           total="412.00", minutes_ago=245)
    Cart.objects.filter(pk=other.pk).update(items=BIG_ITEMS, checkout_step="payment", max_step_reached="review")
    Visitor.objects.filter(pk=other.visitor_id).update(name="Sam Ortiz")
    for minutes, (kind, data) in enumerate(JOURNEY):
        CartEvent.objects.create(cart=other, kind=kind, data=data, created_at=other.abandoned_at - timedelta(minutes=30 - minutes))
    FollowUp.objects.create(cart=other, step=step, channel="call", status=FollowUp.SENT, recipient="+1 415 555 0199",
                            due_at=other.abandoned_at + timedelta(minutes=240))
    CallTask.objects.create(followup=FollowUp.objects.get(cart=other), cart=other)
    # A missed chat: Pat wrote, nobody was online, Pat left.
    pat = make_visitor(site, seen_at=timezone.now() - timedelta(hours=1))
    Visitor.objects.filter(pk=pat.pk).update(name="Pat Doe", email="pat@example.com")
    message, _ = conversations.post_shopper_message(Visitor.objects.get(pk=pat.pk), "m1", "Is the blue hoodie back in stock?")
    assert mark_missed(message.conversation_id, timezone.now())
    # A message left while nobody was online, carrying a script.
    left, _ = leave_message(make_visitor(site), "l1", TEXT_PAYLOAD, "kari@example.no", "+47 912 34 567")
    return task, message.conversation_id, left


async def test_an_agent_works_through_calls_missed_chats_and_left_messages(daphne, chromium):
    task, missed_id, left = await sync_to_async(_seed)()
    errors: list[str] = []
    page = await console_page(chromium, daphne.url, "alice", errors)
    tab = page.locator(".tab[data-tab=followups]")
    # Two calls, one left message and one missed chat not yet looked at.
    await expect(tab.locator(".tab-badge")).to_have_text("4")
    await page.keyboard.press("4")
    view = page.locator(".followups-view")
    await expect(view.locator("[data-testid=count-calls]")).to_have_text("2")
    await expect(view.locator("[data-testid=count-left]")).to_have_text("1")
    await expect(view.locator("[data-testid=count-missed]")).to_have_text("1")

    # --- the call list ---------------------------------------------------------------------------
    card = view.locator(f"[data-testid=call-task][data-task-id='{task.id}']")
    await expect(card).to_be_visible()
    await expect(card.locator("[data-testid=call-name]")).to_have_text(NAME_PAYLOAD)
    phone = card.locator("[data-testid=call-phone]")
    await expect(phone).to_have_text("+1 (415) 555-0100")
    assert await phone.get_attribute("href") == "tel:+14155550100"
    cart = card.locator("[data-testid=call-cart]")
    await expect(cart).to_contain_text("$135.49")
    await expect(cart).to_contain_text("Fleece hoodie")
    await expect(cart).to_contain_text("Payment")  # how far the checkout got
    await expect(card.locator("[data-testid=call-journey]")).to_contain_text("Reached payment")
    await expect(card).to_contain_text("Due")
    # The oldest due first; the bigger cart shows three lines and how many more, and its whole journey on demand.
    sam = view.locator("[data-testid=call-task]").nth(1)
    await expect(sam.locator("[data-testid=call-name]")).to_have_text("Sam Ortiz")
    await expect(sam.locator("[data-testid=call-cart]")).to_contain_text("+ 2 more")
    await expect(sam.locator("[data-testid=call-cart]")).to_contain_text("Review")
    await expect(sam.locator("[data-testid=call-journey] li")).to_have_count(3)
    await shot(page, "followups-calls")
    await sam.locator("[data-testid=call-journey] button").click()
    await expect(sam.locator("[data-testid=call-journey] li")).to_have_count(len(JOURNEY))
    await expect(sam.locator("[data-testid=call-journey]")).to_contain_text("Went back to payment")

    await card.locator("[data-testid=call-note]").fill("Left a message about the hoodie")
    await card.locator("[data-outcome=voicemail]").click()
    await expect(card).to_have_count(0)
    await expect(view.locator("[data-testid=count-calls]")).to_have_text("1")
    await expect(view.locator("[data-testid=call-task]")).to_have_count(1)
    stored = await sync_to_async(CallTask.objects.select_related("agent").get)(pk=task.id)
    assert (stored.outcome, stored.note, stored.agent.username) == ("voicemail", "Left a message about the hoodie", "alice")
    assert stored.done_at is not None

    # --- left messages ---------------------------------------------------------------------------
    await page.keyboard.press("l")
    item = view.locator(f"[data-testid=left-message][data-left-message-id='{left.id}']")
    await expect(item.locator("[data-testid=left-text]")).to_have_text(TEXT_PAYLOAD)
    assert await item.locator("[data-testid=left-email]").get_attribute("href") == "mailto:kari@example.no"
    assert await item.locator("[data-testid=left-phone]").get_attribute("href") == "tel:+4791234567"
    await expect(item).to_contain_text("Nobody was online")
    await shot(page, "followups-left-messages")
    await item.locator("[data-testid=left-note]").fill("Replied by email: yes, 3-5 days")
    await item.locator("[data-testid=left-done]").click()
    await expect(item).to_have_count(0)
    await expect(view.locator("[data-testid=count-left]")).to_have_text("0")
    done = await sync_to_async(LeftMessage.objects.select_related("done_by").get)(pk=left.id)
    assert (done.status, done.done_note, done.done_by.username) == ("done", "Replied by email: yes, 3-5 days", "alice")

    # --- missed chats ----------------------------------------------------------------------------
    await page.keyboard.press("m")
    row = view.locator(f"[data-testid=missed-chat][data-conversation-id='{missed_id}']")
    await expect(row).to_contain_text("Pat Doe")
    await expect(row).to_contain_text("Is the blue hoodie back in stock?")
    await expect(tab.locator(".tab-badge")).to_have_text("1")  # Sam's call; the missed chat is seen now
    await shot(page, "followups-missed")
    await row.click()
    await expect(page.locator(".view[data-view=inbox]")).to_be_visible()
    await expect(page.locator("[data-testid=status]")).to_have_text("Missed")
    await expect(page.locator(".msg-shopper .bubble")).to_have_text(["Is the blue hoodie back in stock?"])
    await expect(page.locator("[data-testid=context]")).to_contain_text("pat@example.com")
    await shot(page, "followups-missed-opened")

    # Nothing from the payloads ran or became an element.
    assert await page.evaluate("() => window.__xss") is None
    assert await page.locator("img[src=x], img[src=y], .followups-view b, .followups-view script").count() == 0
    assert not errors, errors
