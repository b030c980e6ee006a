"""The shopper widget in Chromium against a real Daphne: chat, offers, rating, reloads, tabs, restarts, hostile pages."""
from __future__ import annotations

import gzip
import time
from decimal import Decimal

import pytest

from chatdesk.models import Cart, Conversation, Message, Offer

from .conftest import make_agent
from .widget_browser import (  # noqa: F401 (fixtures)
    W, Agent, StaticServer, browser, bubbles, context, js, ready, seed_shop, send, shot, store_page, wait_for, watch,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BUDGET = 25 * 1024

# Registered through the documented stub before widget.js loads: the queue must replay it.
EARLY_HOOKS = """
window.ChatDesk = window.ChatDesk || { q: [] };
window.__accepted = []; window.__closed = []; window.__messages = [];
ChatDesk.q.push(["on", "offer:accepted", function (o) { window.__accepted.push(o); }]);
ChatDesk.q.push(["on", "conversation:closed", function (e) { window.__closed.push(e); }]);
ChatDesk.q.push(["on", "message", function (m) { window.__messages.push(m); }]);
"""


def all_sent(page) -> bool:
    return page.locator(f"{W} li.pending").count() == 0


def conversation_of(visitor_id: str) -> Conversation:
    return wait_for(lambda: Conversation.objects.filter(visitor__public_id=visitor_id).order_by("-id").first(),
                    what="the conversation row")


def test_a_shopper_chats_accepts_an_offer_into_the_demo_cart_and_rates(daphne, context):
    site = seed_shop()
    alice = make_agent("alice", site, name="Alice")
    context.add_init_script(EARLY_HOOKS)
    page = context.new_page()
    seen = watch(page)
    page.goto(f"{daphne.url}/demo/")
    visitor_id = ready(page)
    page.click("#products .add[data-sku='TEE-1']")
    page.click("#products .add[data-sku='CAP-1']")
    wait_for(lambda: page.inner_text("#cart-count") == "2", what="the demo cart")
    time.sleep(0.3)
    shot(page, "closed")

    page.click(f"{W} .launcher")
    assert page.locator(f"{W} .panel").is_visible()
    wait_for(lambda: js(page, "document.activeElement.tagName") == "CHATDESK-WIDGET", what="focus in the widget")
    assert page.get_attribute(f"{W} .launcher", "aria-expanded") == "true"
    shot(page, "open")

    hostile = "Hi! Is shipping free? <img src=x onerror=alert(1)>"
    send(page, hostile)
    wait_for(lambda: page.locator(f"{W} li.msg.mine .state.ok").count() == 1, what="the ack")
    assert bubbles(page, ".mine") == [hostile]
    assert page.locator(f"{W} .list img").count() == 0
    assert Message.objects.get(conversation__visitor__public_id=visitor_id).text == hostile
    wait_for(lambda: page.locator(f"{W} .queue").is_visible(), what="the queue position")
    assert "number 1 in line" in page.inner_text(f"{W} .queue")
    shot(page, "queued")

    conv = conversation_of(visitor_id)
    agent = Agent(daphne, alice)
    agent.send({"type": "claim", "conversation_id": conv.id})
    wait_for(lambda: page.inner_text(f"{W} .title") == "Alice", what="the agent's name")
    agent.say(conv.id, "Hi, I'm Alice! Standard shipping is free from $75; you're at $37.49. <b>not bold</b>")
    agent.send({"type": "typing", "conversation_id": conv.id, "active": True})
    wait_for(lambda: page.locator(f"{W} .typing").is_visible(), what="the typing indicator")
    assert "<b>not bold</b>" in bubbles(page, ".agent")[-1]
    shot(page, "chatting")

    offer = agent.offer(conv.id, kind="cross_sell", title="Add a stoneware mug for $9", sku="MUG-1", price="9.00")["offer"]
    wait_for(lambda: page.locator(f"{W} li.offer").count() == 1, what="the offer card")
    assert not page.locator(f"{W} .typing").is_visible()
    shot(page, "offer")
    page.click(f"{W} li.offer button.primary")
    accepted = wait_for(lambda: js(page, "window.__accepted"), what="offer:accepted on the page")
    assert [(o["id"], o["sku"], o["price"], o["status"]) for o in accepted] == [(offer["id"], "MUG-1", "9.00", "accepted")]
    # The demo store's handler put the mug in its cart at the offered price, priced by its server.
    wait_for(lambda: page.inner_text("#cart-count") == "3", what="the mug in the demo cart")
    state = js(page, "JSON.parse(localStorage.getItem('demo-store:state'))")
    assert {"sku": "MUG-1", "quantity": 1, "offer_id": offer["id"]} in state["items"]
    assert Offer.objects.get(pk=offer["id"]).status == "accepted"
    cart = wait_for(lambda: Cart.objects.filter(cart_token=state["cart_token"], total="46.49").first(), what="the store cart")
    assert cart.source == "store" and str(cart.visitor.public_id) == visitor_id

    agent.send({"type": "close", "conversation_id": conv.id, "reason": "extra_costs", "note": ""})
    wait_for(lambda: page.locator(f"{W} li.rate form").is_visible(), what="the rating form")
    assert js(page, "window.__closed") == [{"conversation_id": conv.id, "reason": "extra_costs"}]
    shot(page, "rating")
    page.click(f"{W} .star >> nth=4")
    page.fill(f"{W} li.rate textarea", "Quick and friendly")
    page.click(f"{W} li.rate button[type=submit]")
    wait_for(lambda: page.locator(f"{W} li.rate.done").is_visible(), what="the thanks")
    conv.refresh_from_db()
    assert (conv.rating, conv.rating_comment) == (5, "Quick and friendly")

    page.set_viewport_size({"width": 390, "height": 844})
    box = page.locator(f"{W} .panel").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)  # full screen on a phone
    assert not page.locator(f"{W} .launcher").is_visible()
    shot(page, "phone")
    assert [m["sender"] for m in js(page, "window.__messages")] == ["agent"]
    assert seen == {"dialogs": [], "errors": []}
    agent.close()


def test_a_reload_keeps_the_conversation_and_two_tabs_stay_in_step(daphne, context):
    seed_shop()
    a = context.new_page()
    page_errors = watch(a)["errors"]
    a.goto(f"{daphne.url}/demo/")
    visitor_id = ready(a)
    a.click(f"{W} .launcher")
    send(a, "first, from tab A")
    wait_for(lambda: all_sent(a) and bubbles(a) == ["first, from tab A"], what="tab A's ack")

    b = context.new_page()
    b.goto(f"{daphne.url}/demo/#/cart")
    assert ready(b) == visitor_id
    b.click(f"{W} .launcher")
    wait_for(lambda: bubbles(b) == ["first, from tab A"], what="tab B catching up")
    send(b, "second, from tab B")
    wait_for(lambda: bubbles(a) == ["first, from tab A", "second, from tab B"], what="tab A hearing tab B")
    wait_for(lambda: all_sent(b), what="tab B's ack")

    a.reload()
    assert ready(a) == visitor_id
    assert a.locator(f"{W} .panel").is_visible()  # still open after the reload
    wait_for(lambda: bubbles(a) == ["first, from tab A", "second, from tab B"], what="the history after a reload")
    assert a.locator(f"{W} li.msg.mine .state.ok").count() == 2
    texts = list(Message.objects.filter(conversation__visitor__public_id=visitor_id).order_by("seq").values_list("seq", "text"))
    assert texts == [(1, "first, from tab A"), (2, "second, from tab B")]
    assert page_errors == []


def test_the_checkout_steps_feed_chatdesk_and_the_order_is_recorded(daphne, context):
    from chatdesk.models import Order, Visitor

    seed_shop()
    page = context.new_page()
    said = []  # everything the page sent anywhere: HTTP bodies and websocket frames
    page.on("request", lambda r: r.post_data and said.append(r.post_data))
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: said.append(str(payload))))
    page.goto(f"{daphne.url}/demo/")
    visitor_id = ready(page)
    page.click("#products .add[data-sku='HOODIE-1']")
    page.click(".cart-link")
    page.click("#view-cart .summary a.btn-primary")
    page.fill("#form-contact [name=email]", "ann@example.com")
    page.fill("#form-contact [name=name]", "Ann Lee")
    page.check("#form-contact [name=consent_email]")
    page.click("#form-contact button[type=submit]")
    wait_for(lambda: page.locator("#view-checkout [data-row=shipping] dd").first.inner_text() == "$7.50",
             what="the shipping cost at the shipping step")
    assert page.locator("#view-checkout [data-row=total] dd").first.inner_text() == "$65.82"
    shot(page, "demo-shipping-step")
    cart = wait_for(lambda: Cart.objects.filter(visitor__public_id=visitor_id, checkout_step="shipping").first(),
                    what="the store cart at the shipping step")
    assert (cart.source, cart.shipping, cart.tax, cart.total) == ("store", Decimal("7.50"), Decimal("4.32"), Decimal("65.82"))
    visitor = wait_for(lambda: Visitor.objects.filter(public_id=visitor_id, email="ann@example.com",
                                                      checkout_step="shipping").first(), what="identify and page")
    assert visitor.name == "Ann Lee" and visitor.consent_email

    page.fill("#form-shipping [name=address]", "1 Main St")
    page.fill("#form-shipping [name=city]", "Springfield")
    page.fill("#form-shipping [name=zip]", "12345")
    page.click("#form-shipping button[type=submit]")
    page.fill("#form-payment [name=card_name]", "Ann Lee")
    page.fill("#form-payment [name=card_number]", "4242 4242 4242 4242")
    page.fill("#form-payment [name=card_exp]", "12 / 30")
    page.fill("#form-payment [name=card_cvc]", "123")
    page.click("#form-payment button[type=submit]")
    assert "Card ending 4242" in page.inner_text("#review-facts")
    page.click("#place-order")
    wait_for(lambda: page.locator("#view-confirmation").is_visible(), what="the confirmation")
    order = Order.objects.get(order_id=page.inner_text("#confirm-id"))
    assert (order.total, order.visitor.public_id.hex, order.email) == (Decimal("65.82"), visitor.public_id.hex,
                                                                       "ann@example.com")
    assert page.inner_text("#cart-count") == "0"
    wait_for(lambda: Visitor.objects.filter(public_id=visitor_id, checkout_step="complete").exists(),
             what="the complete step")
    # The card number never left the page.
    assert said and not [x for x in said if "4242" in x]


def test_a_rule_met_in_the_page_brings_the_servers_prompt_and_its_fate_is_recorded(daphne, context):
    from chatdesk.models import InterventionEvent, InterventionRule

    site = seed_shop()
    site.holdout_share = 0  # everyone in the treatment arm, so the prompt is sent
    site.save()
    InterventionRule.objects.create(site=site, trigger="leaving-with-cart", name="Leaving with a cart",
                                    text="Before you go: shipping is free from $75. Questions?",
                                    conditions={"exit_intent": True, "min_cart_value": "20.00"})
    page = context.new_page()
    page.goto(f"{daphne.url}/demo/")
    ready(page)
    page.click("#products .add[data-sku='HOODIE-1']")
    wait_for(lambda: page.locator("#cart-count").inner_text() == "1", what="the cart")
    wait_for(lambda: Cart.objects.filter(total="54.00").exists(), what="the store cart")
    time.sleep(0.4)  # the widget's own cart frame is debounced
    js(page, "document.dispatchEvent(new MouseEvent('mouseout', {clientY: -2, bubbles: true}))")
    wait_for(lambda: page.locator(f"{W} .bubble-prompt").is_visible(), what="the server's prompt")
    assert "free from $75" in page.inner_text(f"{W} .bubble-prompt")
    shot(page, "prompt-demo")
    page.click(f"{W} .bubble-prompt button.primary")
    assert page.locator(f"{W} .panel").is_visible()
    wait_for(lambda: InterventionEvent.objects.filter(action="accepted").exists(), what="accepted recorded")
    assert list(InterventionEvent.objects.values_list("trigger", "action")) == [
        ("leaving-with-cart", "triggered"), ("leaving-with-cart", "shown"), ("leaving-with-cart", "accepted")]


def test_messages_typed_while_the_server_restarts_arrive_exactly_once(daphne, context):
    seed_shop()
    page = context.new_page()
    page.goto(f"{daphne.url}/demo/")
    visitor_id = ready(page)
    page.click(f"{W} .launcher")
    send(page, "before the restart")
    wait_for(lambda: all_sent(page), what="the first ack")

    daphne.stop()
    wait_for(lambda: page.locator(f"{W} .banner").is_visible(), what="the reconnecting banner")
    send(page, "typed while the server was down")
    send(page, "and another one")
    assert page.locator(f"{W} li.pending").count() == 2
    shot(page, "offline")
    daphne.start()  # same port, as after a deploy or a crash

    wait_for(lambda: all_sent(page), timeout=30, what="the outbox to drain after the restart")
    wait_for(lambda: not page.locator(f"{W} .banner").is_visible(), what="the banner to go")
    texts = list(Message.objects.filter(conversation__visitor__public_id=visitor_id).order_by("seq").values_list("seq", "text"))
    assert texts == [(1, "before the restart"), (2, "typed while the server was down"), (3, "and another one")]
    assert bubbles(page) == [t for _, t in texts]
    assert js(page, "localStorage.getItem('chatdesk:demo-store:outbox')") is None


HOSTILE_CSS = """<style>
* { font-size: 40px !important; line-height: 0.5 !important; color: red !important; letter-spacing: 9px !important;
    box-sizing: content-box !important; margin: 30px !important; padding: 20px !important; }
html { font-size: 50px !important; }
div, button, section, span, textarea, form, chatdesk-widget { display: none !important; visibility: hidden !important;
    opacity: 0 !important; position: static !important; transform: scale(0.1) !important; }
button { all: unset !important; width: 2px !important; height: 2px !important; }
body > * { position: absolute !important; top: -9999px !important; z-index: -1 !important; }
</style>"""


def test_the_widget_works_on_another_origin_with_hostile_css_within_the_size_budget(daphne, context, tmp_path):
    seed_shop()
    store = StaticServer(tmp_path)
    try:
        store_page(tmp_path, f"{daphne.url}/static/shopper_widget/widget.js", head=HOSTILE_CSS,
                   body="<main><h1>A store that styles everything</h1><p id='own'>Our own text.</p></main>")
        page = context.new_page()
        seen = watch(page)
        from_chatdesk = []
        page.on("response", lambda r: r.url.startswith(daphne.url) and from_chatdesk.append(r))
        page.goto(f"{store.url}/index.html")
        ready(page)
        before_open = [(r.url, r.body()) for r in from_chatdesk]
        gz = sum(len(gzip.compress(body, 6)) for _, body in before_open)
        assert gz <= BUDGET, f"{gz} bytes gzipped before the chat opens: {[u for u, _ in before_open]}"

        launcher = page.locator(f"{W} .launcher").bounding_box()
        width, height = js(page, "[document.documentElement.clientWidth, document.documentElement.clientHeight]")
        assert (launcher["width"], launcher["height"]) == (60, 60)
        assert (launcher["x"] + 60, launcher["y"] + 60) == (width - 24, height - 24)
        page.click(f"{W} .launcher")
        # The panel opens with a short scale animation: measure it once it has settled.
        wait_for(lambda: page.locator(f"{W} .panel").bounding_box()["width"] == 380, what="the open panel at 380 px")
        panel = page.locator(f"{W} .panel").bounding_box()
        assert panel["width"] == 380 and panel["height"] > 400
        assert page.eval_on_selector(f"{W} textarea.input", "t => getComputedStyle(t).fontSize") == "15px"
        send(page, "hello from a hostile page")
        wait_for(lambda: all_sent(page) and bubbles(page) == ["hello from a hostile page"], what="the ack")
        shot(page, "hostile-page")
        # The widget leaves the page alone: no styles of its own in the document, the page's text unchanged.
        assert js(page, "document.querySelectorAll('style').length") == 1
        assert js(page, "getComputedStyle(document.getElementById('own')).color") == "rgb(255, 0, 0)"
        assert seen == {"dialogs": [], "errors": []}
    finally:
        store.stop()
