"""Cancelled and refunded orders: recorded through the API and both platforms' webhooks, kept, and counted nowhere."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chatdesk.models import Order
from chatdesk.reports.metrics import summary
from chatdesk.reports.scope import Scope

from .test_attribution_api import HOODIES, TEE, api, chatted, order_body  # noqa: F401  (chatted is a fixture)
from .test_webhooks import own, shopify, woo

pytestmark = pytest.mark.django_db


def _figures(site) -> dict:
    today = timezone.now().date()
    return summary(Scope(today - timedelta(days=2), today, site))


def _placed(visitor, order_id="5001"):
    body = order_body(order_id, items=[HOODIES, TEE], total="135.49", visitor_id=str(visitor.public_id))
    assert api("post", "/api/v1/orders/", body).status_code == 201
    return body


def test_a_cancelled_order_stops_counting_in_revenue_and_conversion_but_is_kept(site, chatted):
    visitor, conv = chatted
    body = _placed(visitor)
    before = _figures(site)
    assert (before["attributed_orders"], before["attributed_revenue"], before["offer_revenue"]) == (
        1, "135.49", "108.00")

    response = api("post", "/api/v1/orders/5001/cancel/", {"reason": "refunded"})
    assert response.status_code == 200
    assert response.json()["order_id"] == "5001" and response.json()["reason"] == "refunded"
    after = _figures(site)
    assert (after["attributed_orders"], after["attributed_revenue"], after["offer_revenue"]) == (0, "0.00", "0.00")
    # Kept for the record, with its lines and the conversation it was attributed to.
    kept = Order.all_objects.get(order_id="5001")
    assert (kept.cancel_reason, kept.conversation_id, kept.lines.count()) == ("refunded", conv.id, 2)
    assert not Order.objects.filter(order_id="5001").exists()

    # A replayed placement (webhooks and retries come in any order) never revives it, nor doubles it.
    assert api("post", "/api/v1/orders/", body).status_code == 200
    assert Order.all_objects.count() == 1 and Order.all_objects.get().cancelled_at == kept.cancelled_at
    # A second cancellation keeps the first time and reason.
    api("post", "/api/v1/orders/5001/cancel/", {"reason": "cancelled"})
    again = Order.all_objects.get()
    assert (again.cancelled_at, again.cancel_reason) == (kept.cancelled_at, "refunded")


def test_cancelling_an_unknown_order_or_with_a_bad_reason_is_refused_and_stores_nothing(site, chatted):
    visitor, _ = chatted
    missing = api("post", "/api/v1/orders/nope/cancel/", {})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    _placed(visitor)
    bad = api("post", "/api/v1/orders/5001/cancel/", {"reason": "lost in the post"})
    assert bad.status_code == 400 and "reason" in bad.json()["errors"]
    late = api("post", "/api/v1/orders/5001/cancel/", {"cancelled_at": "yesterday"})
    assert late.status_code == 400 and "cancelled_at" in late.json()["errors"]
    assert Order.all_objects.get().cancelled_at is None
    assert Client().post("/api/v1/orders/5001/cancel/", "{}", content_type="application/json").status_code == 401


def test_a_bad_reason_is_answered_with_the_valid_ones_not_echoed(site, chatted):
    """Found by tests/test_fuzz_api.py: the echoed value could hold a lone surrogate, which broke the renderer."""
    visitor, conv = chatted
    _placed(visitor)
    response = Client().post("/api/v1/orders/5001/cancel/", '{"reason": "\\ud800"}', content_type="application/json",
                             HTTP_AUTHORIZATION="Bearer key-demo-store")
    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["Must be one of cancelled, refunded."]}
    assert Order.all_objects.get().cancelled_at is None


@pytest.mark.parametrize("order_id", ["50%0001", "%00", "5" * 101])
def test_a_bad_order_id_in_the_url_is_a_field_level_400(site, chatted, order_id):
    """Found by tests/test_fuzz_api.py: a NUL reached PostgreSQL (a 500); 101 characters matched the order
    whose id is their first 100."""
    visitor, _ = chatted
    _placed(visitor, order_id="5" * 100)
    response = api("post", f"/api/v1/orders/{order_id}/cancel/", {})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["order_id"]
    assert Order.all_objects.get().cancelled_at is None


def test_the_admin_still_lists_cancelled_orders(site, chatted):
    visitor, _ = chatted
    _placed(visitor)
    api("post", "/api/v1/orders/5001/cancel/", {})
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(root)
    page = client.get("/admin/chatdesk/order/?cancel_reason__exact=cancelled")
    assert page.status_code == 200 and b"5001" in page.content
    order = Order.all_objects.get()
    assert client.get(f"/admin/chatdesk/order/{order.pk}/change/").status_code == 200


def test_a_woocommerce_order_cancelled_or_refunded_after_it_was_paid_stops_counting(site):
    created = json.loads(own("woocommerce-order-created.json"))
    assert woo(json.dumps(created).encode(), delivery="d-1").status_code == 200
    assert Order.objects.count() == 1
    refunded = dict(created, status="refunded")
    response = woo(json.dumps(refunded).encode(), topic="order.updated", delivery="d-2")
    assert response.status_code == 200 and response.json()["cancelled"] is True
    assert Order.objects.count() == 0 and Order.all_objects.get().cancel_reason == "refunded"


def test_shopify_cancellations_and_full_refunds_stop_an_order_counting(site):
    order = json.loads(own("shopify-orders-create.json"))
    assert shopify(json.dumps(order).encode(), "orders/create", webhook_id="o1").status_code == 200
    edited = dict(order, note="gift wrap please")
    assert shopify(json.dumps(edited).encode(), "orders/updated", webhook_id="o2").json()["ignored"] is True
    assert Order.objects.count() == 1
    cancelled = dict(order, cancelled_at="2025-05-02T09:30:00-04:00", cancel_reason="customer")
    response = shopify(json.dumps(cancelled).encode(), "orders/cancelled", webhook_id="o3")
    assert response.status_code == 200 and response.json()["cancelled"] is True
    kept = Order.all_objects.get()
    assert kept.cancel_reason == "cancelled" and kept.cancelled_at.isoformat() == "2025-05-02T13:30:00+00:00"

    second = dict(order, id=order["id"] + 1, name="#1002")
    shopify(json.dumps(second).encode(), "orders/create", webhook_id="o4")
    refunded = dict(second, financial_status="refunded")
    assert shopify(json.dumps(refunded).encode(), "orders/updated", webhook_id="o5").json()["cancelled"] is True
    assert Order.objects.count() == 0 and Order.all_objects.count() == 2


def test_a_cancellation_of_an_order_never_recorded_is_acknowledged_and_stores_nothing(site):
    order = json.loads(own("shopify-orders-create.json"))
    cancelled = dict(order, cancelled_at="2025-05-02T09:30:00-04:00")
    response = shopify(json.dumps(cancelled).encode(), "orders/cancelled", webhook_id="x1")
    assert response.status_code == 200 and response.json()["ignored"] is True
    bad = dict(cancelled, cancelled_at="not a time")
    shopify(json.dumps(dict(order)).encode(), "orders/create", webhook_id="x2")
    refused = shopify(json.dumps(bad).encode(), "orders/cancelled", webhook_id="x3")
    assert refused.status_code == 400 and "cancelled_at" in refused.json()["detail"]
    assert Order.all_objects.get().cancelled_at is None
