"""Everything a user can type is shown as inert text: admin and the server-rendered pages.

Every text a shopper, agent or store can type is stored with script and
HTML payloads, then every admin list and change page (every registered
model, so new admins are covered by themselves), the console page, the demo
store, the CSV export are fetched: the payloads must come back escaped,
never as markup. The widget, console and reports pages are checked in a
browser by tests/test_inert_text_browser.py.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from .conftest import make_agent, make_site

# Each payload is harmless as text and dangerous as markup; MARKERS are what would appear if it were markup.
PAYLOADS = [
    '<script>alert("xss-script")</script>',
    '"><img src=x onerror=alert("xss-img")>',
    "'><svg onload=alert('xss-svg')>",
    '<a href="javascript:alert(\'xss-href\')">click</a>',
]
MARKERS = ['<script>alert("xss-script")', '<img src=x onerror', "<svg onload", 'href="javascript:alert']
PAYLOAD = " ".join(PAYLOADS)


def assert_inert(html: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in html, f"{where}: user text rendered as markup ({marker!r})"


def typed_everywhere():
    """One of everything a user can type, each carrying every payload."""
    from agents.models import AgentProfile, CannedReply, Team
    from chatdesk.actions import carts, conversations, offers, visitors
    from chatdesk.models import (
        CallTask, ContactOptOut, FollowUp, FollowUpStep, InterventionRule, Order, OrderLine, PageView, Product, Visitor,
    )
    from django.utils import timezone

    site = make_site(greeting=PAYLOAD[:200])
    Product.objects.create(site=site, sku="TEE-1", name=PAYLOAD[:200], price="19.99", description=PAYLOAD)
    alice = make_agent("alice", site, name=PAYLOAD[:100])
    Team.objects.create(site=site, name=PAYLOAD[:100])
    CannedReply.objects.create(site=site, shortcut="xss", title=PAYLOAD[:100], text=PAYLOAD)
    visitor = Visitor.objects.create(site=site)
    visitors.identify(visitor, "shopper@example.com", PAYLOAD[:200], "+1 555 0100", True, False)
    visitors.record_page(visitor, "https://shop.example/?q=" + PAYLOAD, PAYLOAD[:300], "cart")
    cart = carts.record_widget_cart(visitor, {"cart_token": "c-xss", "items": [
        {"sku": "TEE-1", "name": PAYLOAD[:300], "quantity": 1, "unit_price": "19.99"}]})
    msg, _ = conversations.post_shopper_message(visitor, "m-1", PAYLOAD)
    conv_id = msg.conversation_id
    conversations.claim(alice, conv_id)
    conversations.post_agent_message(alice, conv_id, "a-1", PAYLOAD)
    conversations.add_note(alice, conv_id, "n-1", PAYLOAD)
    offers.make_offer(alice, conv_id, "o-1", {"kind": "upsell", "title": PAYLOAD[:200], "sku": "TEE-1", "price": "9.00"})
    conversations.close(alice, conv_id, "other", PAYLOAD)
    conversations.rate(visitor, 2, PAYLOAD)
    order = Order.objects.create(site=site, order_id="o-xss", cart=cart, visitor=visitor, currency="USD",
                                 total=Decimal("19.99"), created_at=timezone.now(), email="shopper@example.com")
    OrderLine.objects.create(order=order, sku="TEE-1", name=PAYLOAD[:300], quantity=1, unit_price=Decimal("19.99"))
    InterventionRule.objects.create(site=site, trigger="xss", name=PAYLOAD[:200], text=PAYLOAD[:500])
    step = FollowUpStep.objects.create(site=site, channel="call", delay_minutes=1)
    followup = FollowUp.objects.create(cart=cart, step=step, channel="call", due_at=timezone.now())
    CallTask.objects.create(followup=followup, cart=cart, note=PAYLOAD)
    ContactOptOut.objects.create(site=site, channel="email", address="x@example.com")
    assert PageView.objects.exists() and AgentProfile.objects.exists()
    return site, alice


def superuser_client() -> Client:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(root)
    return client


@pytest.mark.django_db
def test_every_admin_list_and_change_page_shows_typed_text_escaped():
    typed_everywhere()
    client = superuser_client()
    checked = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        response = client.get(base)
        assert response.status_code == 200, base
        assert_inert(response.content.decode(), base)
        for obj in model._default_manager.all()[:3]:
            url = f"{base}{obj.pk}/change/"
            response = client.get(url)
            assert response.status_code == 200, url
            assert_inert(response.content.decode(), url)
            checked += 1
    # The payload really went through the pages (escaped), not nowhere.
    response = client.get("/admin/chatdesk/message/")
    assert "&lt;script&gt;alert(" in response.content.decode()
    assert checked > 20


@pytest.mark.django_db
def test_admin_search_and_filters_echo_typed_text_escaped():
    typed_everywhere()
    client = superuser_client()
    for path in ("/admin/chatdesk/visitor/", "/admin/chatdesk/message/", "/admin/agents/cannedreply/"):
        response = client.get(path, {"q": PAYLOAD})
        assert response.status_code == 200
        assert_inert(response.content.decode(), f"{path}?q=")


@pytest.mark.django_db
def test_the_csv_export_neither_runs_formulas_nor_markup():
    from chatdesk.models import Message

    site, alice = typed_everywhere()
    Message.objects.filter(client_id="m-1").update(text='=HYPERLINK("http://evil.example","x")')
    client = superuser_client()
    ids = [str(pk) for pk in Message.objects.values_list("pk", flat=True)]
    response = client.post("/admin/chatdesk/message/", {"action": "export_csv", "_selected_action": ids})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert "'=HYPERLINK" in body and '\n=HYPERLINK' not in body and ",=HYPERLINK" not in body


@pytest.mark.django_db
def test_the_console_page_shows_the_agent_name_as_text():
    site, alice = typed_everywhere()
    client = Client()
    client.force_login(alice)
    response = client.get("/console/")
    assert response.status_code == 200
    assert_inert(response.content.decode(), "/console/")


@pytest.mark.django_db
def test_the_demo_store_shows_product_names_as_text():
    typed_everywhere()
    response = Client().get("/demo/")
    assert response.status_code == 200
    assert_inert(response.content.decode(), "/demo/")


@pytest.mark.django_db
def test_the_login_page_echoes_nothing_as_markup():
    response = Client().get("/accounts/login/", {"next": PAYLOAD})
    assert_inert(response.content.decode(), "/accounts/login/?next=")
    response = Client().post("/accounts/login/", {"username": PAYLOAD, "password": "x"})
    assert_inert(response.content.decode(), "/accounts/login/ (failed)")
