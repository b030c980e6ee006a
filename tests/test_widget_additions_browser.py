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
        store_page(folder, f"{server.url}/static/shopper_widget/widget.js", attrs=f"data-host='{fake.url}'")
        page = context.new_page()
        page.goto(f"{server.url}/index.html")
        ready(page)
        page.click(f"{W} .launcher")
        assert page.locator(f"{W} .leave").is_visible() and not page.locator(f"{W} form.composer").is_visible()
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
