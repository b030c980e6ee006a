"""Builders shared by the follow-up tests: abandoned carts with or without contact details and consent."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from chatdesk.models import Cart, FollowUpStep, Visitor

ITEMS = [
    {"sku": "HOODIE-1", "name": "Fleece hoodie", "quantity": 2, "unit_price": "54.00",
     "image_url": "/static/shopper_widget/demo/hoodie-1.svg"},
    {"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 1, "unit_price": "19.99"},
]


def step(site, channel="email", delay=60, min_value="0.00", enabled=True) -> FollowUpStep:
    return FollowUpStep.objects.create(site=site, channel=channel, delay_minutes=delay,
                                       min_cart_value=Decimal(min_value), enabled=enabled)


def abandoned_cart(site, token="cart-1", email="Ann@Example.com", phone="", consent_email=True, consent_sms=False,
                   total="135.49", minutes_ago=90, visitor=True, **extra) -> Cart:
    owner = Visitor.objects.create(site=site, name="Ann") if visitor else None
    now = timezone.now()
    return Cart.objects.create(
        site=site, cart_token=token, visitor=owner, items=ITEMS, subtotal=Decimal("127.99"),
        shipping=Decimal("7.50"), total=Decimal(total), checkout_step="shipping", max_step_reached="payment",
        email=email, phone=phone, consent_email=consent_email, consent_sms=consent_sms,
        last_activity_at=now - timedelta(minutes=minutes_ago + 30), abandoned_at=now - timedelta(minutes=minutes_ago),
        **extra,
    )
