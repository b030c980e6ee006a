"""What users type reaches the agent console and the reports pages as inert text, in Chromium.

Everything the console and /reports/ show that someone typed carries script
and HTML payloads: shoppers' names, emails, messages, page titles and cart
item names; agents' names, notes, saved replies, offer titles and close
notes; site and team names; a retired reason code on the reports. An agent
opens the queue, the conversation with its context panel, the saved-reply
picker, the offer composer, the transfer and close dialogs and every other
section; a supervisor opens /reports/ and the live floor. No dialog opens,
no element a payload would create exists, `window.__pwned` stays unset, and
the payloads' text is on the page as written. (The pages' CSP would stop
the scripts anyway; the element check is what shows the text was never
parsed as markup.) The widget has its own test in test_inert_text_browser.py.
"""
from __future__ import annotations

import asyncio

import pytest

from .conftest import make_agent, make_site
from .widget_browser import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each sets window.__pwned or marks itself with data-xss if it is ever parsed as markup.
PWN_IMG = '<img src=x onerror="window.__pwned=1" data-xss>'
PWN_SCRIPT = "<script>window.__pwned=1</script>"
PWN_SVG = '"><svg onload="window.__pwned=1" data-xss>'
PWN = f"{PWN_IMG} {PWN_SCRIPT} {PWN_SVG} <a href=\"javascript:window.__pwned=1\" data-xss>x</a>"
PWN_SHORT = "<img src=x onerror=window.__pwned=1 data-xss>"  # fits 100-character names
PWN_EMAIL = '"<img src=x onerror=window.__pwned=1 data-xss>"@example.com'  # a valid address (quoted local part)
PWN_CODE = "<i data-xss>gone</i>"  # fits a 32-character close reason code

# Anything a payload would have created, on the page or in any open dialog.
MARKUP = ("[data-xss], script:not([src]):not([type='application/json']), img[src='x'], svg[onload], iframe, "
          "a[href^='javascript'], [onerror], [onload]")
INJECTED_JS = f"() => Array.from(document.querySelectorAll(\"{MARKUP}\"), e => e.outerHTML.slice(0, 120))"


def _typed_in_the_console_world():
    """One of everything the console shows that someone typed, each carrying script and HTML payloads.

    Built on test_inert_text.typed_everywhere (its alice, canned reply, team, product, a closed conversation
    with a close note, offer, order...), plus: bob (a transfer target) and the same shopper writing again, so
    that an open conversation with notes, cart and pages sits in the queue with the closed one in its history;
    and an abandoned cart of a shopper whose name and email are payloads.
    """
    from agents.models import CannedReply, Team
    from chatdesk.actions import carts, conversations, visitors
    from chatdesk.models import Cart, Conversation, Visitor

    from .followup_helpers import abandoned_cart
    from .test_inert_text import typed_everywhere

    site, alice = typed_everywhere()
    site.name = f"Shop {PWN_SHORT}"
    site.save()
    bob = make_agent("bob", site, name=PWN_SHORT)
    team = Team.objects.get(site=site)
    alice.agent_profile.teams.add(team)  # a team's conversations wait for its members only
    CannedReply.objects.filter(site=site).update(title=PWN_SHORT, text=f"Hi {{name}}! {PWN}")
    shopper = Visitor.objects.get(site=site, name__startswith="<script>")
    Visitor.objects.filter(pk=shopper.pk).update(email=PWN_EMAIL)
    visitors.record_page(shopper, "https://shop.example/checkout", PWN, "shipping")
    carts.record_widget_cart(shopper, {"cart_token": "c-xss", "checkout_step": "shipping", "items": [
        {"sku": "TEE-1", "name": PWN, "quantity": 1, "unit_price": "19.99"},
        {"sku": "MUG-1", "name": PWN_SHORT, "quantity": 2, "unit_price": "9.00"}]})
    message, _ = conversations.post_shopper_message(shopper, "m-2", f"Again: {PWN}")
    conversations.add_note(bob, message.conversation_id, "n-2", f"Bob's note: {PWN}")
    Conversation.objects.filter(pk=message.conversation_id).update(team=team)
    left = abandoned_cart(site, token="ab-xss", email=PWN_EMAIL)
    Cart.objects.filter(pk=left.pk).update(items=[{"sku": "TEE-1", "name": PWN, "quantity": 1, "unit_price": "19.99"}])
    Visitor.objects.filter(pk=left.visitor_id).update(name=PWN_SHORT)
    return site, alice, bob, message.conversation_id


@pytest.fixture
def console_world(daphne):
    """Written before Playwright starts (its event loop makes the ORM refuse to run)."""
    return _typed_in_the_console_world()


async def _assert_inert(page, dialogs, where: str, *texts: str) -> None:
    injected = await page.evaluate(INJECTED_JS)
    assert injected == [], f"{where}: user text became markup: {injected}"
    assert await page.evaluate("() => window.__pwned") is None, where
    assert dialogs == [], f"{where}: a dialog opened: {dialogs}"
    shown = await page.evaluate("() => document.body.textContent")
    for text in texts:
        assert text in shown, f"{where}: {text[:60]!r} is not shown literally"


async def test_the_console_shows_everything_typed_as_text(console_world, daphne):
    from playwright.async_api import async_playwright, expect

    from .console_browser import Shopper, console_page, launch
    from .console_browser import shot as console_shot
    from .test_inert_text import PAYLOADS

    site, alice, bob, conv_id = console_world
    async with async_playwright() as p:
        chromium = await launch(p)
        errors: list[str] = []
        page = await console_page(chromium, daphne.url, "alice", errors)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))

        # The queue: the shopper's name and the preview of their message.
        row = page.locator(f".conv-row[data-conversation-id='{conv_id}']")
        await expect(row).to_contain_text("Again:")
        await _assert_inert(page, dialogs, "queue", PAYLOADS[0][:30])

        # The conversation, its notes and the context panel (cart, pages, contact, history).
        await row.click()
        await expect(page.locator(".note .note-text")).to_contain_text(["Bob's note:"])
        context = page.locator("[data-testid=context]")
        await expect(context.locator(".cart-line").first).to_be_visible()
        await _assert_inert(page, dialogs, "conversation", f"Again: {PWN}", f"Bob's note: {PWN}", PWN_SHORT)
        assert PWN in await context.text_content(), "the cart line's or page's name is not shown literally"
        await console_shot(page, "inert-console-conversation")

        # Claim; the saved-reply picker shows the reply's title; the reply and a note go out as text.
        await page.locator("[data-testid=claim]").click()
        await expect(page.locator("[data-testid=status]")).to_have_text("Active")
        composer = page.locator("[data-testid=composer]")
        await composer.click()
        await composer.press_sequentially("/xss")
        await expect(page.locator(".canned-item")).to_have_count(1)
        await _assert_inert(page, dialogs, "saved replies", PWN_SHORT)
        await console_shot(page, "inert-console-canned")
        await page.keyboard.press("Enter")
        await page.keyboard.press("Enter")
        await expect(page.locator(".msg-agent .bubble").last).to_contain_text(PWN)
        await page.locator(".mode[data-mode=note]").click()
        await composer.fill(f"Alice's note: {PWN}")
        await page.keyboard.press("Enter")
        await expect(page.locator(".note .note-text").last).to_have_text(f"Alice's note: {PWN}")
        await page.locator(".mode[data-mode=message]").click()
        await _assert_inert(page, dialogs, "messages and notes", f"Alice's note: {PWN}")

        # An offer: the catalogue's names in the picker, a typed title on the card.
        await page.locator("[data-testid=open-offer]").click()
        await page.locator("[data-testid=product-search]").press_sequentially("TEE")
        await expect(page.locator(".product[data-sku=TEE-1]")).to_be_visible()
        await _assert_inert(page, dialogs, "offer picker")
        await page.locator(".product[data-sku=TEE-1]").click()
        await page.locator("[data-testid=offer-title]").fill(PWN[:200])
        await page.locator("[data-testid=offer-price]").fill("12.00")
        await page.locator("[data-testid=send-offer]").click()
        await expect(page.locator(".offer-row [data-testid=offer-status]").last).to_have_text("Waiting for the shopper")
        await _assert_inert(page, dialogs, "offer card", PWN[:200])

        # Transfer: agents' names and the team's name; then close with a note.
        await page.keyboard.press("Escape")
        await page.keyboard.press("t")
        await expect(page.locator(".target[data-agent=bob]")).to_be_visible()
        await _assert_inert(page, dialogs, "transfer dialog", PWN_SHORT, PAYLOADS[0])
        await console_shot(page, "inert-console-transfer")
        await page.keyboard.press("Escape")
        await page.keyboard.press("e")
        await page.locator(".reason[data-reason=other]").click()
        await page.locator("[data-testid=close-note]").fill(PWN)
        await page.locator("[data-testid=confirm-close]").click()
        await expect(page.locator("[data-testid=status]")).to_have_text("Closed")
        await _assert_inert(page, dialogs, "closed conversation")

        # A shopper arriving live: name, email, page title, cart and message over the socket.
        shopper = await Shopper.connect(daphne.url)
        await shopper.send({"type": "identify", "name": PWN[:200], "email": PWN_EMAIL})
        await shopper.send({"type": "page", "url": f"{daphne.url}/demo/#checkout", "title": PWN[:300],
                            "checkout_step": "shipping"})
        await shopper.send({"type": "cart", "cart": {"currency": "USD", "checkout_step": "shipping", "items": [
            {"sku": "LIVE-1", "name": PWN, "quantity": 1, "unit_price": "5.00"}]}})
        await shopper.say(f"Live: {PWN}", "live-1")
        await page.locator(".filter[data-filter=waiting]").click()
        await expect(page.locator(".conv-row[data-status=queued]")).to_contain_text(["Live:"])
        await _assert_inert(page, dialogs, "live queue", PWN[:60])

        # The other sections: visitors at checkout, abandoned carts, follow-ups.
        await page.keyboard.press("2")
        await expect(page.locator(f".vt-row[data-visitor-id='{shopper.visitor_id}']")).to_be_visible()
        await _assert_inert(page, dialogs, "visitors at checkout", PWN[:60])
        await page.keyboard.press("3")
        await expect(page.locator(".ac-row[data-cart-id]").first).to_be_visible()
        await _assert_inert(page, dialogs, "abandoned carts", PWN_SHORT, PWN_EMAIL)
        await console_shot(page, "inert-console-abandoned")
        await page.keyboard.press("4")
        await page.wait_for_timeout(500)
        await _assert_inert(page, dialogs, "follow-ups")
        await shopper.close()
        assert errors == []
        await chromium.close()


def _typed_in_the_reports_world():
    """Conversations of today whose site, agent, team, shopper, close note and (retired) reason code were typed
    with payloads; one shopper still waiting for the floor; sam, a supervisor, to read them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from agents.models import AgentProfile, Team
    from chatdesk.actions import conversations, visitors
    from chatdesk.models import Conversation, Visitor

    sam = get_user_model().objects.create_user("sam", password="pw-sam", first_name="Sam", is_staff=True)
    sam.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    site = make_site("xss-shop", name=f"Shop {PWN_SHORT}")
    make_site("plain-shop", name="Plain shop")
    agent = make_agent("agent-xss", site, name=PWN_SHORT)
    AgentProfile.objects.filter(user=agent).update(presence=AgentProfile.ONLINE)
    team = Team.objects.create(site=site, name=PWN_SHORT)
    for i, reason in enumerate(["other", "extra_costs", "other"]):
        shopper = Visitor.objects.create(site=site)
        visitors.identify(shopper, PWN_EMAIL, PWN[:200], "", False, False)
        message, _ = conversations.post_shopper_message(shopper, f"m-{i}", PWN)
        conversations.claim(agent, message.conversation_id)
        conversations.post_agent_message(agent, message.conversation_id, f"a-{i}", PWN)
        conversations.close(agent, message.conversation_id, reason, PWN)
    # A reason code no longer offered (say, edited in the admin) is still reported, as its own code.
    Conversation.objects.filter(close_reason="extra_costs").update(close_reason=PWN_CODE)
    waiting = Visitor.objects.create(site=site)
    visitors.identify(waiting, "", PWN_SHORT, "", False, False)
    message, _ = conversations.post_shopper_message(waiting, "w-1", PWN)
    Conversation.objects.filter(pk=message.conversation_id).update(team=team)
    return site, agent


@pytest.fixture
def reports_world(daphne):
    return _typed_in_the_reports_world()


@pytest.fixture
def sync_chromium(reports_world):
    from playwright.sync_api import sync_playwright

    from .widget_browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _assert_inert_sync(page, dialogs, where: str, *texts: str) -> None:
    injected = page.evaluate(INJECTED_JS)
    assert injected == [], f"{where}: user text became markup: {injected}"
    assert page.evaluate("() => window.__pwned") is None, where
    assert dialogs == [], f"{where}: a dialog opened: {dialogs}"
    shown = page.evaluate("() => document.body.textContent")
    for text in texts:
        assert text in shown, f"{where}: {text[:60]!r} is not shown literally"


@pytest.mark.processes
def test_the_reports_and_the_floor_show_everything_typed_as_text(daphne, reports_world, sync_chromium):
    from playwright.sync_api import expect

    site, agent = reports_world
    page = sync_chromium.new_page(viewport={"width": 1360, "height": 900})
    dialogs, problems = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{daphne.url}/accounts/login/?next=/reports/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw-sam")
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne.url}/reports/*")

    # Today's figures: site and agent names in the filters, the agents table, reason codes in table and chart.
    expect(page.locator('[data-figure="conversations"]')).to_have_text("4")
    _assert_inert_sync(page, dialogs, "/reports/", f"Shop {PWN_SHORT}", PWN_SHORT, PWN_CODE)
    assert PWN_CODE in page.locator("#table-reasons").text_content()
    assert PWN_SHORT in page.locator("#table-agents").text_content()
    assert PWN_CODE in page.locator('[data-chart="reasons"]').text_content()
    page.screenshot(path=str(SHOTS / "inert-reports.png"), full_page=True)

    # Scoped to the site and the agent: their names in the scope line.
    page.goto(f"{daphne.url}/reports/?site=xss-shop&agent=agent-xss")
    expect(page.locator("#scope-note")).to_contain_text(f"Shop {PWN_SHORT}")
    _assert_inert_sync(page, dialogs, "/reports/?site&agent", f"Shop {PWN_SHORT} · {PWN_SHORT}")

    # The floor: the waiting shopper's name, the team, the agent; and again after a live refresh.
    page.goto(f"{daphne.url}/reports/floor/")
    page.wait_for_selector("#live.on")
    expect(page.locator("#queue-table tbody tr[data-since]")).to_have_count(1)
    _assert_inert_sync(page, dialogs, "/reports/floor/", PWN_SHORT, f"Shop {PWN_SHORT}")
    assert PWN_SHORT in page.locator("#queue-table").text_content()
    assert PWN_SHORT in page.locator("#agents-table").text_content()
    page.screenshot(path=str(SHOTS / "inert-floor.png"), full_page=True)
    assert problems == []
