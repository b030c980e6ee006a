"""A recovery email's link, followed in Chromium, lands in the demo store with the abandoned cart restored."""
from __future__ import annotations

import pytest

from chatdesk.actions import followups
from chatdesk.models import Cart, FollowUp

from .followup_helpers import abandoned_cart, step
from .widget_browser import browser, context, seed_shop, shot, wait_for  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_recovery_link_restores_the_abandoned_cart_in_the_demo_store(daphne, context):
    site = seed_shop()
    step(site, "email")
    cart = abandoned_cart(site, token="demo-abandoned01", source=Cart.STORE)
    followups.scan_followups()
    fu = followups.deliver_followup(FollowUp.objects.get(cart=cart).pk)
    assert fu.status == "sent"

    page = context.new_page()
    page.goto(f"{daphne.url}/r/{followups.recovery_token(fu)}/")
    # Redirected to the demo store, which read /r/<token>/cart.json and rebuilt the cart (2 hoodies, 1 tee).
    wait_for(lambda: page.inner_text("#cart-count") == "3", what="the restored cart")
    assert "recover=" not in page.url and page.url.endswith("/demo/#/cart")
    wait_for(lambda: "Fleece hoodie" in page.inner_text("#cart-lines"), what="the priced cart lines")
    state = page.evaluate("() => JSON.parse(localStorage.getItem('demo-store:state'))")
    assert state["cart_token"] == "demo-abandoned01"
    assert [(i["sku"], i["quantity"]) for i in state["items"]] == [("HOODIE-1", 2), ("TEE-1", 1)]
    assert FollowUp.objects.get(pk=fu.pk).clicked_at is not None
    shot(page, "recovered-cart")
