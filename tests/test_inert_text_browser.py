"""What others type reaches the shopper's widget as inert text, in Chromium (the console and the reports pages:
tests/test_inert_text_console_browser.py).

Agents' messages, names, offer titles and invitations, and the site's name
and greeting, all carry script and HTML payloads; the page must open no
dialog, raise no script error, and hold no element the payloads would have
created, while showing their text literally.
"""
from __future__ import annotations

import pytest

from .conftest import make_agent
from .test_inert_text import PAYLOAD
from .widget_browser import (  # noqa: F401 (fixtures)
    W, Agent, browser, context, js, ready, seed_shop, send, shot, wait_for, watch,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Elements the payloads would create if they were parsed as HTML (inside the widget's shadow root or the page).
INJECTED = "script:not([src]):not([type='application/json']), img[src='x'], svg[onload], a[href^='javascript'], [onerror], [onload]"


def injected_elements(page) -> list[str]:
    """The outer HTML of every element on the page or in the widget that a payload would have created."""
    return js(page, f"""(() => {{
        const host = document.querySelector('chatdesk-widget');
        const roots = [document, host && host.shadowRoot].filter(Boolean);
        return roots.flatMap(r => Array.from(r.querySelectorAll("{INJECTED}"), e => e.outerHTML.slice(0, 120)));
    }})()""")


def widget_text(page) -> str:
    return js(page, "document.querySelector('chatdesk-widget').shadowRoot.textContent")


def test_the_widget_shows_what_agents_and_the_site_typed_as_text(daphne, context):
    from chatdesk.models import Conversation

    site = seed_shop()
    site.name = "Shop " + PAYLOAD[:150]
    site.greeting = PAYLOAD[:200]
    site.save()
    alice = make_agent("alice", site, name=PAYLOAD[:100])
    page = context.new_page()
    seen = watch(page)
    page.goto(f"{daphne.url}/demo/")
    visitor_id = ready(page)
    page.click(f"{W} .launcher")
    send(page, "hello " + PAYLOAD)
    conv = wait_for(lambda: Conversation.objects.filter(visitor__public_id=visitor_id).first(), what="the conversation")

    agent = Agent(daphne, alice)
    agent.send({"type": "claim", "conversation_id": conv.id})
    agent.expect("detail")
    agent.say(conv.id, PAYLOAD)
    agent.offer(conv.id, kind="cross_sell", title=PAYLOAD[:200], sku="MUG-1", price="9.00")
    wait_for(lambda: page.locator(f"{W} li.offer").count() == 1, what="the offer card")
    wait_for(lambda: widget_text(page).count('<script>alert("xss-script")</script>') >= 3,
             what="the payloads shown as text")
    shot(page, "inert-text")
    assert injected_elements(page) == []
    agent.send({"type": "close", "conversation_id": conv.id, "reason": "other", "note": PAYLOAD})
    wait_for(lambda: page.locator(f"{W} li.rate form").is_visible(), what="the rating form")
    assert injected_elements(page) == []

    # A proactive invitation an agent typed, shown on a closed panel.
    page.click(f"{W} .launcher")
    agent.send({"type": "invite", "visitor_id": visitor_id, "text": PAYLOAD[:500]})
    agent.expect("invited")
    wait_for(lambda: "xss-svg" in widget_text(page), what="the invitation")
    assert injected_elements(page) == []
    assert seen == {"dialogs": [], "errors": []}
    agent.close()
