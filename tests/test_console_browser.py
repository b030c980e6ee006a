"""The agent console in Chromium against a real Daphne: a whole conversation, a claim race, a dropped socket.

The whole conversation drives the real widget on the demo store in a second browser; the race, the
dropped socket and the at-checkout list drive the shopper's socket directly (tests/console_browser.Shopper,
the frames widget.js sends), which is quicker and says exactly what happened. Screenshots of each console state go to tests/artifacts/screenshots/.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from agents.models import CannedReply
from chatdesk.management.commands.seed_demo import CATALOGUE
from chatdesk.models import Conversation, Note, Product

from .conftest import make_agent, make_site
from .console_browser import Shopper, console_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# A busy CI machine runs two suites and several browsers at once: wait for the page a little longer.
expect.set_options(timeout=15_000)

CART = {"currency": "USD", "checkout_step": "shipping", "shipping": "7.50", "items": [
    {"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 2, "unit_price": "19.99"}]}


def _make_shop():
    """The demo site as `seed_demo` makes it (catalogue, a saved reply), with agents alice and bob."""
    site = make_site("demo-store", name="Demo Store")
    for sku, name, description, price in CATALOGUE:
        Product.objects.create(site=site, sku=sku, name=name, description=description, price=Decimal(price),
                               image_url=f"/static/shopper_widget/demo/{sku.lower()}.svg", url=f"/demo/#{sku}")
    CannedReply.objects.create(site=site, shortcut="shipping", title="Shipping costs",
                               text="Hi {name}, shipping is free over $75. Your cart is at {cart_total} right now.")
    for username in ("alice", "bob"):
        make_agent(username, site)  # displayed as "Alice" and "Bob"
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


W = "chatdesk-widget"  # Playwright's CSS selectors pierce the widget's open shadow root


async def _shopper_on_the_demo_store(browser, base_url: str):
    """A second browser: the demo store with the real widget, two tees in the cart, at the shipping step."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base_url}/demo/")
    for _ in range(100):  # the widget has its visitor once `welcome` arrived
        if await page.evaluate("() => !!(window.ChatDesk && window.ChatDesk.visitorId && window.ChatDesk.visitorId())"):
            break
        await page.wait_for_timeout(100)
    for _ in range(2):
        await page.click("#products .add[data-sku='TEE-1']")
    await expect(page.locator("#cart-count")).to_have_text("2")
    await page.goto(f"{base_url}/demo/#/checkout/contact")
    await page.fill("#form-contact input[name=email]", "maria@example.com")
    await page.fill("#form-contact input[name=name]", "Maria Lopez")
    await page.click("#form-contact button[type=submit]")
    await expect(page.locator("#form-shipping")).to_be_visible()
    total = page.locator("#view-checkout [data-summary] [data-row=total] dd")
    await expect(page.locator("#view-checkout [data-summary] [data-row=shipping] dd")).to_have_text("$7.50")
    return page, (await total.inner_text()).strip()


async def test_agent_claims_replies_offers_notes_and_closes_and_the_shopper_is_asked_to_rate(daphne, shop, chromium):
    errors: list[str] = []
    page = await console_page(chromium, daphne.url, "alice", errors)
    await expect(page.locator(".col-list .empty-list h3")).to_have_text("All caught up")
    await shot(page, "console-empty")

    store, total = await _shopper_on_the_demo_store(chromium, daphne.url)
    await store.click(f"{W} .launcher")
    await store.fill(f"{W} textarea.input", "Is shipping free?")
    await store.press(f"{W} textarea.input", "Enter")

    row = page.locator(".conv-row[data-status=queued]")
    await expect(row).to_have_count(1)
    await expect(row.locator("[data-testid=cart-total]")).to_have_text(total)
    await expect(row.locator("[data-testid=unread]")).to_have_text("1")
    await expect(row.locator(".conv-name")).to_have_text("Maria Lopez")
    await shot(page, "console-queue")

    await page.keyboard.press("c")  # claim the top of the queue with one key
    await expect(page.locator("[data-testid=status]")).to_have_text("Active")
    await expect(store.locator(f"{W} .title")).to_have_text("Alice")
    await expect(page.locator(".msg-shopper .bubble")).to_have_text(["Is shipping free?"])
    context = page.locator("[data-testid=context]")
    await expect(context.locator("[data-testid=cart-totals]")).to_contain_text(total)
    await expect(context.locator(".cart-line[data-sku=TEE-1]")).to_contain_text("Organic cotton tee")
    await expect(context.locator(".signal[data-code=shipping_shown]")).to_contain_text("Shipping cost $7.50 shown")

    # A saved reply with "/" and a search; its placeholders are filled in.
    composer = page.locator("[data-testid=composer]")
    await composer.click()
    await composer.press_sequentially("/ship")
    await expect(page.locator(".canned-item")).to_have_count(1)
    await page.keyboard.press("Enter")
    filled = f"Hi Maria Lopez, shipping is free over $75. Your cart is at {total} right now."
    await expect(composer).to_have_value(filled)
    await page.keyboard.press("Enter")
    await expect(store.locator(f"{W} li.msg.agent .bubble").last).to_have_text(filled)
    await expect(page.locator(".msg-agent [data-testid=delivery]")).to_have_text("Sent")

    # Typing both ways.
    await store.locator(f"{W} textarea.input").press_sequentially("Great, and")
    await expect(page.locator(".typing-row")).to_be_visible()
    await composer.press_sequentially("One moment")
    await expect(store.locator(f"{W} .typing")).to_be_visible()
    await composer.fill("")
    await store.locator(f"{W} textarea.input").press_sequentially(f" I'm only at {total} though.")
    await store.press(f"{W} textarea.input", "Enter")
    await expect(page.locator(".msg-shopper .bubble")).to_have_count(2)

    # An internal note, visibly different and never shown to the shopper.
    await page.locator(".mode[data-mode=note]").click()
    await composer.press_sequentially("VIP: offer the cap to get her over $75")
    await page.keyboard.press("Enter")
    await expect(page.locator(".note .note-text")).to_have_text(["VIP: offer the cap to get her over $75"])
    await expect(page.locator(".note.pending")).to_have_count(0)

    # An offer from the catalogue; the shopper accepts it in the widget, the console shows it and the cart grows.
    await page.locator("[data-testid=open-offer]").click()
    await page.locator("[data-testid=product-search]").press_sequentially("cap")
    await page.locator(".product[data-sku=CAP-1]").click()
    await page.locator("[data-testid=offer-price]").fill("12.00")
    await shot(page, "console-offer-composer")
    await page.locator("[data-testid=send-offer]").click()
    card = store.locator(f"{W} li.offer")
    await expect(card).to_contain_text("Canvas cap")
    status = page.locator(".offer-row [data-testid=offer-status]")
    await expect(status).to_have_text("Waiting for the shopper")
    await card.locator("button.primary").click()
    await expect(status).to_have_text("Accepted")
    await expect(context.locator(".cart-line[data-sku=CAP-1]")).to_contain_text("Canvas cap")
    await page.locator(".mode[data-mode=message]").click()
    await shot(page, "console-conversation")
    assert "VIP" not in await store.locator(f"{W} .panel").inner_text()

    # Close with a required reason; the shopper is told and asked to rate.
    await page.keyboard.press("Escape")
    await page.keyboard.press("e")
    confirm = page.locator("[data-testid=confirm-close]")
    await expect(confirm).to_be_disabled()
    await page.locator(".reason[data-reason=extra_costs]").click()
    await page.locator("[data-testid=close-note]").fill("Wanted free shipping; took the cap")
    await shot(page, "console-close-dialog")
    await confirm.click()
    await expect(page.locator("[data-testid=status]")).to_have_text("Closed")
    await expect(store.locator(f"{W} li.rate form")).to_be_visible()
    await store.click(f"{W} .star >> nth=4")
    await store.click(f"{W} li.rate button[type=submit]")
    await expect(store.locator(f"{W} li.rate.done")).to_be_visible()

    await page.keyboard.press("?")
    await expect(page.locator(".modal-shortcuts")).to_be_visible()
    await shot(page, "console-shortcuts")
    await page.keyboard.press("Escape")
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await shot(page, "console-large-screen")

    conv = await sync_to_async(Conversation.objects.get)()
    assert (conv.status, conv.close_reason, conv.close_note, conv.rating) == (
        "closed", "extra_costs", "Wanted free shipping; took the cap", 5)
    assert await sync_to_async(Note.objects.filter(conversation=conv).count)() == 1
    assert "VIP" not in await store.locator(f"{W} .panel").inner_text()
    assert errors == []


async def test_two_agents_racing_to_claim_in_two_browsers_exactly_one_wins_then_a_transfer(daphne, shop, chromium):
    pages = {name: await console_page(chromium, daphne.url, name) for name in ("alice", "bob")}
    shopper = await _shopper_at_checkout(daphne.url, "Anyone there?")
    for page in pages.values():
        await expect(page.locator(".conv-row[data-status=queued]")).to_have_count(1)
        alert = await page.evaluate("() => window.chatdesk.notifier.lastAlert")
        assert alert["title"] == "New conversation: $47.48 at shipping"  # chime + desktop notification
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

    # The winner hands it to the other agent with a note; it lands in their "Mine" at once.
    await pages[winner].keyboard.press("t")
    await pages[winner].locator(f".target[data-agent={loser}]").click()
    await pages[winner].locator("[data-testid=transfer-note]").fill("Asked about bulk pricing; over to you")
    await shot(pages[winner], "console-transfer-dialog")
    await pages[winner].locator("[data-testid=confirm-transfer]").click()
    await expect(pages[loser].locator(".toast").last).to_contain_text("was transferred to you")
    await expect(pages[loser].locator(".filter[data-filter=mine] .count")).to_have_text("1")
    await expect(pages[winner].locator(".pane-actions")).to_contain_text(f"With {loser.title()}")
    assert (await shopper.expect("assigned"))["agent"]["name"] == loser.title()
    conv = await sync_to_async(Conversation.objects.select_related("agent").get)()
    assert conv.agent.username == loser
    assert await sync_to_async(Note.objects.filter(text__contains="bulk pricing").count)() == 1
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
