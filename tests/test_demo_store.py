"""The demo store's server: prices from its own catalogue, shipping at the shipping step, codes and chat offers."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from chatdesk.actions import conversations, offers
from chatdesk.errors import ActionError
from chatdesk.management.commands.seed_demo import CATALOGUE
from chatdesk.models import Cart, Order, Product, Visitor
from shopper_widget import demo_store

from .conftest import make_agent, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    site = make_site(name="Demo Store")
    for sku, name, description, price in CATALOGUE:
        Product.objects.create(site=site, sku=sku, name=name, description=description, price=Decimal(price),
                               image_url=f"/static/shopper_widget/demo/{sku.lower()}.svg", url=f"/demo/#{sku}")
    return site


def body(**kw):
    data = {"cart_token": "demo-cart-0001", "items": [{"sku": "TEE-1", "quantity": 2}], "checkout_step": "cart"}
    data.update(kw)
    return data


def test_prices_come_from_the_catalogue_not_from_the_page(shop):
    priced = demo_store.price_cart(shop, body(items=[{"sku": "TEE-1", "quantity": 2, "unit_price": "0.01"}]))
    assert priced.body["items"][0]["unit_price"] == "19.99"
    assert priced.body["subtotal"] == "39.98" and priced.body["total"] == "39.98"


def test_shipping_and_tax_appear_at_the_shipping_step(shop):
    before = demo_store.price_cart(shop, body(checkout_step="contact")).body
    assert (before["shipping"], before["tax"], before["shipping_known"]) == ("0.00", "0.00", False)
    at = demo_store.price_cart(shop, body(checkout_step="shipping")).body
    assert at["shipping"] == "7.50" and at["tax"] == "3.20" and at["total"] == "50.68"
    express = demo_store.price_cart(shop, body(checkout_step="shipping", shipping_method="express")).body
    assert express["shipping"] == "15.00"


def test_standard_shipping_is_free_from_75(shop):
    priced = demo_store.price_cart(shop, body(items=[{"sku": "HOODIE-1", "quantity": 2}], checkout_step="payment")).body
    assert priced["subtotal"] == "108.00" and priced["shipping"] == "0.00"


def test_welcome_code_takes_ten_percent_and_an_unknown_code_is_reported_not_applied(shop):
    priced = demo_store.price_cart(shop, body(discount_code="welcome10")).body
    assert priced["discount"] == "4.00" and priced["discount_codes"] == ["WELCOME10"] and priced["total"] == "35.98"
    bad = demo_store.price_cart(shop, body(discount_code="FREEMONEY")).body
    assert bad["discount"] == "0.00" and bad["discount_error"] == "'FREEMONEY' is not a valid code"


@pytest.mark.parametrize("change, field", [
    ({"items": [{"sku": "NOPE", "quantity": 1}]}, "items[0].sku"),
    ({"items": [{"sku": "TEE-1", "quantity": 0}]}, "items[0].quantity"),
    ({"items": [{"sku": "TEE-1", "quantity": True}]}, "items[0].quantity"),
    ({"items": "TEE-1"}, "items"),
    ({"cart_token": "x"}, "cart_token"),
    ({"checkout_step": "teleport"}, "checkout_step"),
    ({"shipping_method": "drone"}, "shipping_method"),
    ({"visitor_id": "not-a-uuid"}, "visitor_id"),
])
def test_bad_carts_are_refused_naming_the_field(shop, change, field):
    with pytest.raises(ActionError) as err:
        demo_store.price_cart(shop, body(**change))
    assert err.value.field == field


def _accepted_offer(site, visitor, **offer):
    agent = make_agent("alice", site, name="Alice")
    conversations.post_shopper_message(visitor, "c1", "hello")
    conv = visitor.conversations.get()
    conversations.claim(agent, conv.id)
    made, _ = offers.make_offer(agent, conv.id, "o1", offer)
    offers.respond_offer(visitor, made.id, True)
    return made


def test_an_accepted_chat_offer_prices_the_line_for_that_visitor_only(shop):
    visitor = Visitor.objects.create(site=shop)
    offer = _accepted_offer(shop, visitor, kind="cross_sell", title="Mug for $9", sku="MUG-1", price="9.00")
    line = {"sku": "MUG-1", "quantity": 1, "offer_id": offer.id}
    mine = demo_store.price_cart(shop, body(items=[line], visitor_id=str(visitor.public_id))).body
    assert mine["items"][0]["unit_price"] == "9.00" and mine["items"][0]["offer_id"] == offer.id
    stranger = Visitor.objects.create(site=shop)
    theirs = demo_store.price_cart(shop, body(items=[line], visitor_id=str(stranger.public_id))).body
    assert theirs["items"][0]["unit_price"] == "14.00" and "offer_id" not in theirs["items"][0]


def test_an_accepted_discount_offer_code_is_valid_for_that_visitor(shop):
    visitor = Visitor.objects.create(site=shop)
    _accepted_offer(shop, visitor, kind="discount", title="15% off today", discount_code="CHAT15")
    mine = demo_store.price_cart(shop, body(discount_code="CHAT15", visitor_id=str(visitor.public_id))).body
    assert mine["discount"] == "6.00" and mine["discount_codes"] == ["CHAT15"]
    assert demo_store.price_cart(shop, body(discount_code="CHAT15")).body["discount_error"]


def test_the_cart_endpoint_stores_the_store_cart_linked_to_the_widget_visitor(shop):
    visitor = Visitor.objects.create(site=shop)
    response = Client().post("/demo/cart/", json.dumps(body(visitor_id=str(visitor.public_id), checkout_step="shipping")),
                             content_type="application/json")
    assert response.status_code == 200 and response.json()["total"] == "50.68"
    cart = Cart.objects.get(cart_token="demo-cart-0001")
    assert (cart.source, cart.visitor_id, cart.total, cart.shipping, cart.checkout_step) == (
        "store", visitor.id, Decimal("50.68"), Decimal("7.50"), "shipping")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", json.dumps(body(items=[{"sku": "NOPE", "quantity": 1}])).encode()])
def test_the_cart_endpoint_refuses_bad_bodies_and_stores_nothing(shop, raw):
    response = Client().post("/demo/cart/", raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"]
    assert not Cart.objects.exists()


def test_the_demo_page_lists_the_catalogue_with_the_widget_tag(shop):
    page = Client().get("/demo/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'src="/static/shopper_widget/widget.js" data-site="demo-store" async' in html
    assert all(name in html for _, name, _, _ in CATALOGUE)


def test_placing_an_order_records_it_once_with_the_priced_total_and_closes_the_cart(shop):
    visitor = Visitor.objects.create(site=shop)
    data = body(items=[{"sku": "HOODIE-1", "quantity": 1}], visitor_id=str(visitor.public_id), email="ann@example.com")
    first = Client().post("/demo/order/", json.dumps(data), content_type="application/json")
    again = Client().post("/demo/order/", json.dumps(data), content_type="application/json")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {
        "order_id": demo_store.order_id_for("demo-cart-0001"), "total": "65.82", "currency": "USD"}
    order = Order.objects.get()
    assert (order.source, order.visitor_id, order.email, order.total) == ("demo", visitor.id, "ann@example.com",
                                                                          Decimal("65.82"))
    assert [(l.sku, l.quantity, l.unit_price) for l in order.lines.all()] == [("HOODIE-1", 1, Decimal("54.00"))]
    cart = Cart.objects.get(cart_token="demo-cart-0001")
    assert cart.ordered_at is not None and cart.checkout_step == "complete" and cart.total == Decimal("65.82")


@pytest.mark.parametrize("change, field", [({"items": []}, "items"), ({"email": "not an email"}, "email"),
                                           ({"email": ["a@b.c"]}, "email")])
def test_an_empty_cart_or_a_bad_email_places_no_order(shop, change, field):
    response = Client().post("/demo/order/", json.dumps(body(**change)), content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not Order.objects.exists() and not Cart.objects.exists()
