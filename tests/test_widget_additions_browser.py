"""Protocol additions in the widget (interventions, availability, leave a message) against a stand-in server."""
from __future__ import annotations

import shutil
import time

import pytest

from .widget_browser import (  # noqa: F401 (fixtures)
    ROOT, W, FakeChatDesk, StaticServer, browser, context, js, ready, shot, store_page, wait_for,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def widget_host(tmp_path):
    """A third-party page folder serving a copy of widget.js, like a CDN would."""
    target = tmp_path / "static" / "shopper_widget"
    target.mkdir(parents=True)
    shutil.copy(ROOT / "static" / "shopper_widget" / "widget.js", target / "widget.js")
    server = StaticServer(tmp_path)
    yield tmp_path, server
    server.stop()


def _prompt_for(frame):
    if frame["type"] == "intervention" and frame["action"] == "triggered":
        return [{"type": "prompt", "trigger": frame["trigger"], "text": f"Need a hand? ({frame['trigger']})"}]
    return []


def test_intervention_rules_fire_once_per_page_and_prompts_report_shown_accepted_dismissed(context, widget_host):
    folder, server = widget_host
    fake = FakeChatDesk({"interventions": [
        {"trigger": "exit_big_cart", "text": "x", "when": {"exit_intent": True, "min_cart_value": "50.00"}},
        {"trigger": "stuck_on_payment", "text": "x", "when": {"idle_seconds": 1, "checkout_step": ["payment"],
                                                               "url_pattern": "index\\.html"}},
        {"trigger": "never", "text": "x", "when": {"url_pattern": "/nowhere/"}},
    ]}, reply=_prompt_for)
    try:
        store_page(folder, f"{server.url}/static/shopper_widget/widget.js", attrs=f"data-host='{fake.url}'")
        page = context.new_page()
        page.goto(f"{server.url}/index.html")
        ready(page)
        leave = "document.dispatchEvent(new MouseEvent('mouseout', {clientY: -2, bubbles: true}))"
        js(page, "ChatDesk.setCart({currency: 'EUR', items: [], total: '49.99'})")
        js(page, leave)
        time.sleep(0.5)
        assert fake.sent("intervention") == []  # the cart is under the rule's minimum
        js(page, "ChatDesk.setCart({currency: 'EUR', items: [], total: '50.00'})")
        js(page, leave)
        wait_for(lambda: page.locator(f"{W} .bubble-prompt").is_visible(), what="the exit prompt")
        js(page, leave)
        assert "Need a hand? (exit_big_cart)" in page.inner_text(f"{W} .bubble-prompt")
        shot(page, "prompt")
        page.click(f"{W} .bubble-prompt .x")
        wait_for(lambda: fake.sent("intervention", action="dismissed"), what="dismissed")

        js(page, "ChatDesk.checkoutStep('payment')")
        wait_for(lambda: page.locator(f"{W} .bubble-prompt").is_visible(), timeout=5, what="the idle prompt")
        page.click(f"{W} .bubble-prompt button.primary")
        assert page.locator(f"{W} .panel").is_visible()
        wait_for(lambda: fake.sent("intervention", action="accepted"), what="accepted")
        actions = [(f["trigger"], f["action"]) for f in fake.sent("intervention")]
        assert actions == [
            ("exit_big_cart", "triggered"), ("exit_big_cart", "shown"), ("exit_big_cart", "dismissed"),
            ("stuck_on_payment", "triggered"), ("stuck_on_payment", "shown"), ("stuck_on_payment", "accepted"),
        ]
    finally:
        fake.stop()


def test_when_the_store_is_closed_the_shopper_leaves_a_message_with_a_way_to_reply(context, widget_host):
    folder, server = widget_host

    def answer(frame):
        return [{"type": "left_message", "client_id": frame["client_id"]}] if frame["type"] == "leave_message" else []

    fake = FakeChatDesk({"availability": {"open": False, "agents_online": 0, "reason": "closed"}}, reply=answer)
    try:
        # The store overrides the accent and translates a string on the tag itself.
        attrs = (f"data-host='{fake.url}' data-accent-color='#be123c' "
                 "data-strings='{\"leaveSubmit\": \"Send to the shop\"}'")
        store_page(folder, f"{server.url}/static/shopper_widget/widget.js", attrs=attrs)
        page = context.new_page()
        page.goto(f"{server.url}/index.html")
        ready(page)
        page.click(f"{W} .launcher")
        assert page.locator(f"{W} .leave").is_visible() and not page.locator(f"{W} form.composer").is_visible()
        assert page.inner_text(f"{W} .leave button[type=submit]") == "Send to the shop"
        assert page.eval_on_selector(f"{W} .launcher", "b => getComputedStyle(b).backgroundColor") == "rgb(190, 18, 60)"
        assert "closed right now" in page.inner_text(f"{W} .leave")
        page.fill(f"{W} .leave textarea", "Do you ship to Norway?")
        page.click(f"{W} .leave button[type=submit]")
        wait_for(lambda: "email address or a phone" in page.inner_text(f"{W} .leave .err"), what="the contact check")
        assert fake.sent("leave_message") == []
        page.fill(f"{W} .leave input[type=email]", "kari@example.no")
        shot(page, "leave-message")
        page.click(f"{W} .leave button[type=submit]")
        wait_for(lambda: page.locator(f"{W} .leave .thanks").is_visible(), what="the thanks")
        [frame] = fake.sent("leave_message")
        assert (frame["text"], frame["email"], frame["phone"]) == ("Do you ship to Norway?", "kari@example.no", "")
        assert frame["client_id"]
    finally:
        fake.stop()


def _message(seq: int, text: str, sender: str = "agent", client_id=None) -> dict:
    return {"id": 100 + seq, "conversation_id": 1, "seq": seq, "sender": sender,
            "author": "Alice" if sender == "agent" else None, "text": text,
            "created_at": "2026-01-05T10:0%d:00Z" % seq, "client_id": client_id}


def _offer(status: str) -> dict:
    return {"id": 9, "conversation_id": 1, "kind": "upsell", "title": "The fleece hoodie for 45", "sku": "HOODIE-1",
            "price": "45.00", "discount_code": None, "status": status, "created_at": "2026-01-05T10:03:00Z",
            "expires_at": None, "currency": "EUR", "product": None}


def test_keyboard_alone_opens_sends_accepts_an_offer_rates_and_closes(context, widget_host):
    folder, server = widget_host

    def answer(frame):
        if frame["type"] == "message":
            return [{"type": "ack", "client_id": frame["client_id"],
                     "message": _message(2, frame["text"], "shopper", frame["client_id"])}]
        if frame["type"] == "offer_response":
            return [{"type": "offer", "offer": _offer("accepted" if frame["accepted"] else "declined")}]
        if frame["type"] == "rate":
            return [{"type": "rated", "conversation_id": 1, "score": frame["score"]}]
        return []

    fake = FakeChatDesk(reply=answer)
    try:
        store_page(folder, f"{server.url}/static/shopper_widget/widget.js", attrs=f"data-host='{fake.url}'",
                   body="<a href='#top'>Store home</a>")
        page = context.new_page()
        page.goto(f"{server.url}/index.html")
        ready(page)
        focused = "(document.activeElement.shadowRoot || document).activeElement"
        launcher_colour = f"getComputedStyle(document.querySelector('{W}').shadowRoot.querySelector('.launcher')).backgroundColor"
        wait_for(lambda: js(page, launcher_colour) == "rgb(15, 118, 110)", what="the site's accent from welcome")
        fake.push({"type": "message", "message": _message(1, "Hi! Anything I can help with?")})
        wait_for(lambda: page.inner_text(f"{W} .badge") == "1", what="the unread badge")
        assert "Anything I can help with" in page.inner_text(f"{W} .bubble-prompt")
        shot(page, "unread")

        passed = []
        for _ in range(5):  # the store's link, the preview's two buttons, then the launcher
            page.keyboard.press("Tab")
            passed.append(js(page, f"{focused}.getAttribute('aria-label') || {focused}.textContent"))
            if js(page, f"{focused}.className").startswith("launcher"):
                break
        assert passed == ["Store home", "Dismiss", "Open chat", "Open chat"]
        page.keyboard.press("Enter")
        wait_for(lambda: js(page, f"{focused}.tagName") == "TEXTAREA", what="focus in the composer")
        assert not page.locator(f"{W} .badge").is_visible()
        page.keyboard.type("Do you have it in green?")
        page.keyboard.press("Enter")
        wait_for(lambda: page.locator(f"{W} li.msg.mine .state.ok").count() == 1, what="the ack")

        fake.push({"type": "offer", "offer": _offer("proposed")})
        wait_for(lambda: page.locator(f"{W} li.offer button").count() == 2, what="the offer card")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        assert js(page, f"{focused}.textContent") == "Accept"
        shot(page, "keyboard-focus")
        page.keyboard.press("Enter")
        wait_for(lambda: fake.sent("offer_response", offer_id=9, accepted=True), what="the answer")
        wait_for(lambda: "Accepted" in page.inner_text(f"{W} li.offer"), what="the accepted card")
        assert js(page, f"{focused}.closest('li').className") == "offer"  # focus stayed on the card

        fake.push({"type": "closed", "conversation_id": 1, "reason": "product_question"})
        wait_for(lambda: page.locator(f"{W} li.rate form").is_visible(), what="the rating form")
        page.focus(f"{W} li.rate input[value='1']")
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Tab")
        page.keyboard.type("Helpful")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        wait_for(lambda: fake.sent("rate"), what="the rating")
        assert [(f["score"], f["comment"]) for f in fake.sent("rate")] == [(4, "Helpful")]
        wait_for(lambda: page.locator(f"{W} li.rate.done").is_visible(), what="the thanks")

        page.keyboard.press("Escape")
        assert not page.locator(f"{W} .panel").is_visible()
        assert js(page, f"{focused}.className").startswith("launcher")
    finally:
        fake.stop()
