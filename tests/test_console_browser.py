"""The agent console in Chromium against a real Daphne: a whole conversation, a claim race, a dropped socket.

The shopper is a real widget socket (tests/console_browser.Shopper) sending the frames widget.js sends.
Screenshots of each console state go to tests/artifacts/screenshots/.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import async_playwright, expect

from agents.models import CannedReply
from chatdesk.models import Conversation, Note, Product

from .conftest import make_agent, make_site
from .console_browser import Shopper, console_page, launch, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# A busy CI machine runs two suites and several browsers at once: wait for the page a little longer.
expect.set_options(timeout=15_000)

CART = {"currency": "USD", "checkout_step": "shipping", "shipping": "7.50", "items": [
    {"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 2, "unit_price": "19.99"}]}


@pytest.fixture
async def chromium():
    async with async_playwright() as p:
        browser = await launch(p)
        yield browser
        await browser.close()


def _make_shop():
    site = make_site("demo-store", name="Demo Store")
    for sku, name, price in (("TEE-1", "Organic cotton tee", "19.99"), ("CAP-1", "Canvas cap", "17.50"),
                             ("MUG-1", "Stoneware mug", "14.00")):
        Product.objects.create(site=site, sku=sku, name=name, price=Decimal(price))
    CannedReply.objects.create(site=site, shortcut="shipping", title="Shipping costs",
                               text="Hi {name}, shipping is free over $75. Your cart is at {cart_total} right now.")
    for username in ("alice", "bob"):
        make_agent(username, site)
    return site


@pytest.fixture
def shop(daphne):
    return _make_shop()


async def _shopper_at_checkout(base_url: str, text: str | None = None) -> Shopper:
    shopper = await Shopper.connect(base_url)
    await shopper.send({"type": "page", "url": f"{base_url}/demo/", "title": "Demo store"})
    await shopper.send({"type": "cart", "cart": CART})
    await shopper.send({"type": "page", "url": f"{base_url}/demo/#checkout", "title": "Checkout", "checkout_step": "shipping"})
    if text:
        await shopper.say(text, "s1")
    return shopper


async def test_agent_claims_replies_offers_notes_and_closes_and_the_shopper_is_asked_to_rate(daphne, shop, chromium):
    errors: list[str] = []
    page = await console_page(chromium, daphne.url, "alice", errors)
    await expect(page.locator(".col-list .empty-list h3")).to_have_text("All caught up")
    await shot(page, "console-empty")

    shopper = await _shopper_at_checkout(daphne.url, "Is shipping free?")
    row = page.locator(".conv-row[data-status=queued]")
    await expect(row).to_have_count(1)
    await expect(row.locator("[data-testid=cart-total]")).to_have_text("$47.48")
    await expect(row.locator("[data-testid=unread]")).to_have_text("1")
    await shot(page, "console-queue")

    await page.keyboard.press("c")  # claim the top of the queue with one key
    await expect(page.locator("[data-testid=status]")).to_have_text("Active")
    assert (await shopper.expect("assigned"))["agent"] == {"name": "Alice"}
    await expect(page.locator(".msg-shopper .bubble")).to_have_text(["Is shipping free?"])
    await expect(page.locator("[data-testid=context] [data-testid=cart-totals]")).to_contain_text("$47.48")

    # A saved reply with "/" and a search; its placeholders are filled in.
    composer = page.locator("[data-testid=composer]")
    await composer.click()
    await composer.press_sequentially("/ship")
    await expect(page.locator(".canned-item")).to_have_count(1)
    await page.keyboard.press("Enter")
    filled = "Hi there, shipping is free over $75. Your cart is at $47.48 right now."
    await expect(composer).to_have_value(filled)
    await page.keyboard.press("Enter")
    reply = (await shopper.expect("message"))["message"]
    assert (reply["sender"], reply["text"]) == ("agent", filled)
    await expect(page.locator(".msg-agent [data-testid=delivery]")).to_have_text("Sent")

    # Typing both ways.
    await shopper.send({"type": "typing", "active": True})
    await expect(page.locator(".typing-row")).to_be_visible()
    await composer.press_sequentially("One moment")
    assert (await shopper.expect("typing"))["active"] is True
    await composer.fill("")
    await shopper.say("Great, I'm only at $47 though.", "s2")
    await expect(page.locator(".msg-shopper .bubble")).to_have_count(2)

    # An internal note, visibly different and never sent to the shopper.
    await page.locator(".mode[data-mode=note]").click()
    await composer.press_sequentially("VIP: offer the cap to get her over $75")
    await page.keyboard.press("Enter")
    await expect(page.locator(".note .note-text")).to_have_text(["VIP: offer the cap to get her over $75"])
    await expect(page.locator(".note.pending")).to_have_count(0)

    # An offer from the catalogue; the shopper accepts and the console shows it.
    await page.locator("[data-testid=open-offer]").click()
    await page.locator("[data-testid=product-search]").press_sequentially("cap")
    await page.locator(".product[data-sku=CAP-1]").click()
    await page.locator("[data-testid=offer-price]").fill("12.00")
    await shot(page, "console-offer-composer")
    await page.locator("[data-testid=send-offer]").click()
    offer = (await shopper.expect("offer"))["offer"]
    assert (offer["kind"], offer["sku"], offer["price"], offer["status"]) == ("cross_sell", "CAP-1", "12.00", "proposed")
    status = page.locator(f".offer-row[data-offer-id='{offer['id']}'] [data-testid=offer-status]")
    await expect(status).to_have_text("Waiting for the shopper")
    await shopper.send({"type": "offer_response", "offer_id": offer["id"], "accepted": True})
    await expect(status).to_have_text("Accepted")
    await page.locator(".mode[data-mode=message]").click()
    await shot(page, "console-conversation")

    # Close with a required reason; the shopper is told and asked to rate.
    await page.keyboard.press("Escape")
    await page.keyboard.press("e")
    confirm = page.locator("[data-testid=confirm-close]")
    await expect(confirm).to_be_disabled()
    await page.locator(".reason[data-reason=extra_costs]").click()
    await page.locator("[data-testid=close-note]").fill("Wanted free shipping; took the cap")
    await shot(page, "console-close-dialog")
    await confirm.click()
    assert (await shopper.expect("closed"))["reason"] == "extra_costs"
    await shopper.send({"type": "rate", "score": 5})
    assert (await shopper.expect("rated"))["score"] == 5
    await expect(page.locator("[data-testid=status]")).to_have_text("Closed")

    await page.keyboard.press("?")
    await expect(page.locator(".modal-shortcuts")).to_be_visible()
    await shot(page, "console-shortcuts")

    conv = await sync_to_async(Conversation.objects.get)()
    assert (conv.status, conv.close_reason, conv.close_note, conv.rating) == (
        "closed", "extra_costs", "Wanted free shipping; took the cap", 5)
    assert await sync_to_async(Note.objects.filter(conversation=conv).count)() == 1
    await shopper.drain()
    assert not any("VIP" in str(frame) for frame in shopper.seen)
    await shopper.close()
    assert errors == []


async def test_two_agents_racing_to_claim_in_two_browsers_exactly_one_wins(daphne, shop, chromium):
    pages = {name: await console_page(chromium, daphne.url, name) for name in ("alice", "bob")}
    shopper = await _shopper_at_checkout(daphne.url, "Anyone there?")
    for page in pages.values():
        await expect(page.locator(".conv-row[data-status=queued]")).to_have_count(1)
    # Both press Claim within the same few milliseconds (the buttons are found first, so that the
    # first claim's frames cannot take the second button away before it is pressed).
    for page in pages.values():
        await page.evaluate("window.__claim = document.querySelector('.conv-row[data-status=queued] .claim')")
    await asyncio.gather(*(page.evaluate("window.__claim.click()") for page in pages.values()))

    winner_name = (await shopper.expect("assigned"))["agent"]["name"]
    conv = await sync_to_async(Conversation.objects.select_related("agent").get)()
    winner = conv.agent.username
    assert winner_name == winner.title()
    loser = "bob" if winner == "alice" else "alice"
    await expect(pages[winner].locator("[data-testid=status]")).to_have_text("Active")
    await expect(pages[winner].locator(".pane-sub")).to_contain_text("assigned to you")
    await expect(pages[loser].locator(".toast")).to_contain_text("already taken")
    await expect(pages[loser].locator(".conv-row[data-status=queued]")).to_have_count(0)
    await pages[loser].locator(".filter[data-filter=all]").click()
    await expect(pages[loser].locator(".conv-row .with-agent")).to_have_text(f"with {winner_name}")
    await shopper.drain()
    assert len([f for f in shopper.seen if f["type"] == "assigned"]) == 1
    await shopper.close()


async def test_a_console_socket_dropped_and_restored_mid_conversation_misses_nothing(daphne, shop, chromium):
    page = await console_page(chromium, daphne.url, "alice")
    shopper = await _shopper_at_checkout(daphne.url, "First question")
    await page.locator(".conv-row[data-status=queued] .claim").click()
    await expect(page.locator("[data-testid=status]")).to_have_text("Active")
    await shopper.expect("assigned")

    # The network goes, and the socket with it (held down 4 s: offline emulation may spare open sockets).
    # Meanwhile the shopper writes three times and the agent once.
    await page.context.set_offline(True)
    await page.evaluate("window.chatdesk.socket.drop(4000)")
    await expect(page.locator("[data-testid=connection]")).to_contain_text("Reconnecting")
    for i in range(2, 5):
        await shopper.say(f"Message {i} while you were away", f"s{i}")
    composer = page.locator("[data-testid=composer]")
    await composer.fill("Sorry, my connection dropped")
    await page.keyboard.press("Enter")
    await expect(page.locator(".msg-agent.pending [data-testid=delivery]")).to_contain_text("Sending")
    await shot(page, "console-reconnecting")

    await page.context.set_offline(False)
    await expect(page.locator("[data-testid=connection]")).to_have_text("Live", timeout=15000)
    await expect(page.locator(".msg-shopper .bubble")).to_have_text(
        ["First question", "Message 2 while you were away", "Message 3 while you were away",
         "Message 4 while you were away"])
    await expect(page.locator(".msg-agent.pending")).to_have_count(0)
    await expect(page.locator(".msg-agent .bubble")).to_have_text(["Sorry, my connection dropped"])
    assert (await shopper.expect("message"))["message"]["text"] == "Sorry, my connection dropped"
    seqs = await page.locator(".history .msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == [1, 2, 3, 4, 5]

    # Live frames flow again on the restored socket.
    await shopper.say("Back to normal?", "s6")
    await expect(page.locator(".msg-shopper .bubble").last).to_have_text("Back to normal?")
    await shopper.drain()
    assert [f["message"]["text"] for f in shopper.seen if f["type"] == "message"] == ["Sorry, my connection dropped"]
    await shopper.close()


async def test_visitors_at_checkout_appear_live_and_can_be_invited(daphne, shop, chromium):
    page = await console_page(chromium, daphne.url, "alice")
    await page.keyboard.press("2")
    await expect(page.locator(".visitors-view .empty-list h3")).to_have_text("Nobody is at checkout right now")
    shopper = await _shopper_at_checkout(daphne.url)
    row = page.locator(f".vt-row[data-visitor-id='{shopper.visitor_id}']")
    await expect(row).to_contain_text("$47.48")
    await expect(row).to_contain_text("Shipping")
    await row.locator("[data-testid=invite]").click()
    await page.locator("[data-testid=invite-text]").fill("Need a hand with shipping?")
    await shot(page, "console-visitors-at-checkout")
    await page.locator("[data-testid=send-invite]").click()
    assert (await shopper.expect("prompt"))["text"] == "Need a hand with shipping?"
    await expect(row).to_contain_text("Invited")
    await shopper.close()
    await expect(row).to_have_count(0)
