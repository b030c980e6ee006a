"""The cart's journey as events, the same whether the widget or the store tells it."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from chatdesk.actions.carts import record_widget_cart
from chatdesk.models import Cart, CartEvent, Visitor

pytestmark = pytest.mark.django_db

JOURNEY = [
    {"checkout_step": "cart", "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 1, "unit_price": "19.99"}]},
    {"checkout_step": "cart", "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"},
                                        {"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": "14.00"}]},
    {"checkout_step": "contact", "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"}]},
    {"checkout_step": "shipping", "shipping": "7.50",
     "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"}]},
    {"checkout_step": "payment", "shipping": "7.50", "discount": "4.00",
     "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"}]},
    {"checkout_step": "payment", "shipping": "0.00", "discount": "4.00",
     "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"}]},
    {"checkout_step": "payment", "shipping": "5.00", "discount": "4.00",
     "items": [{"sku": "TEE-1", "name": "Tee", "quantity": 2, "unit_price": "19.99"}]},
]
EXPECTED = [
    ("item_added", {"sku": "TEE-1", "name": "Tee", "quantity": 1}),
    ("quantity_changed", {"sku": "TEE-1", "from": 1, "to": 2}),
    ("item_added", {"sku": "MUG-1", "name": "Mug", "quantity": 1}),
    ("item_removed", {"sku": "MUG-1", "name": "Mug"}),
    ("step_changed", {"from": "cart", "to": "contact"}),
    ("step_changed", {"from": "contact", "to": "shipping"}),
    ("shipping_shown", {"shipping": "7.50"}),
    ("step_changed", {"from": "shipping", "to": "payment"}),
    ("discount_applied", {"discount": "4.00"}),
    # Shipping went to zero and back: it was already shown once, so no second "first shown".
]


def journey(cart: Cart):
    return [(e.kind, e.data) for e in cart.events.order_by("created_at", "id")]


def test_widget_carts_record_the_journey_as_events(site):
    visitor = Visitor.objects.create(site=site)
    for body in JOURNEY:
        record_widget_cart(visitor, {"currency": "USD", **body})
    cart = Cart.objects.get()
    assert journey(cart) == EXPECTED
    assert set(cart.events.values_list("source", flat=True)) == {"widget"}


def test_store_carts_record_the_same_journey(site):
    for body in JOURNEY:
        response = Client().put("/api/v1/carts/s-1/", data=json.dumps({"currency": "USD", **body}),
                                content_type="application/json", HTTP_AUTHORIZATION="Bearer key-demo-store")
        assert response.status_code in (200, 201)
    cart = Cart.objects.get()
    assert journey(cart) == EXPECTED
    assert set(cart.events.values_list("source", flat=True)) == {"api"}


def test_a_widget_cart_ignored_because_the_store_spoke_records_no_events(site):
    visitor = Visitor.objects.create(site=site)
    Client().put("/api/v1/carts/s-1/", data=json.dumps({"visitor_id": str(visitor.public_id), **JOURNEY[0]}),
                 content_type="application/json", HTTP_AUTHORIZATION="Bearer key-demo-store")
    before = CartEvent.objects.count()
    record_widget_cart(visitor, {"cart_token": "s-1", **JOURNEY[1]})
    assert CartEvent.objects.count() == before
