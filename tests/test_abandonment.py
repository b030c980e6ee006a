"""Abandoned carts per METRICS.md (time passed in), the locked Huey task, and the agents' list."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from chatdesk.actions.abandonment import abandoned_carts, detect_abandoned
from chatdesk.models import Cart, CartEvent, Order, Visitor

from .conftest import make_agent, make_site

pytestmark = pytest.mark.django_db


def cart(site, token="c1", step="contact", minutes_ago=31, visitor=None, **kw) -> Cart:
    now = timezone.now()
    return Cart.objects.create(
        site=site, cart_token=token, visitor=visitor, checkout_step=step, max_step_reached=step,
        total=Decimal("80.00"), last_activity_at=now - timedelta(minutes=minutes_ago), **kw)


def test_a_cart_at_contact_or_later_left_for_the_threshold_is_abandoned(site):
    c = cart(site, email="ann@example.com", consent_email=True)
    now = timezone.now()
    marked = detect_abandoned(now)
    assert [m.pk for m in marked] == [c.pk]
    c.refresh_from_db()
    # Abandoned when the silence reached 30 minutes, not when the task ran.
    assert c.abandoned_at == c.last_activity_at + timedelta(minutes=30)
    event = c.events.get(kind=CartEvent.ABANDONED)
    assert event.data == {"total": "80.00", "currency": "USD", "checkout_step": "contact"}
    assert detect_abandoned(now + timedelta(hours=1)) == []  # once


def test_the_threshold_is_the_sites_setting(site):
    site.abandon_after_minutes = 60
    site.save()
    c = cart(site, minutes_ago=45)
    now = timezone.now()
    assert detect_abandoned(now) == []
    assert [m.pk for m in detect_abandoned(now + timedelta(minutes=16))] == [c.pk]


@pytest.mark.parametrize("step", ["cart"])
def test_a_cart_that_never_reached_contact_is_not_abandoned(site, step):
    cart(site, step=step, minutes_ago=600)
    assert detect_abandoned(timezone.now()) == []


def test_a_cart_whose_step_went_back_still_counts_by_the_furthest_step(site):
    c = cart(site, step="payment")
    Cart.objects.filter(pk=c.pk).update(checkout_step="cart")
    assert len(detect_abandoned(timezone.now())) == 1


def test_an_ordered_cart_or_a_shopper_who_bought_elsewhere_is_not_abandoned(site):
    cart(site, token="ordered", ordered_at=timezone.now())
    visitor = Visitor.objects.create(site=site)
    cart(site, token="left-behind", visitor=visitor)
    Order.objects.create(site=site, order_id="9", visitor=visitor, currency="USD", total=Decimal("10.00"),
                         created_at=timezone.now())
    assert detect_abandoned(timezone.now()) == []


def test_a_shopper_still_on_the_site_is_not_abandoning(site):
    visitor = Visitor.objects.create(site=site, last_seen_at=timezone.now() - timedelta(minutes=5))
    cart(site, visitor=visitor, minutes_ago=40)
    now = timezone.now()
    assert detect_abandoned(now) == []
    assert len(detect_abandoned(now + timedelta(minutes=26))) == 1


def test_a_returning_shopper_clears_abandonment_and_can_abandon_again(site):
    from chatdesk.actions.carts import apply_cart, validate_cart

    c = cart(site)
    detect_abandoned(timezone.now())
    apply_cart(site, "c1", validate_cart({"checkout_step": "shipping", "items": []}), "api")
    c.refresh_from_db()
    assert c.abandoned_at is None
    assert len(detect_abandoned(timezone.now() + timedelta(minutes=31))) == 1
    assert c.events.filter(kind=CartEvent.ABANDONED).count() == 2


def test_the_task_is_locked_so_two_workers_never_run_it_at_once(site):
    from huey.exceptions import TaskLockedException

    from chatdesk.tasks.abandonment import LOCK, detect_abandoned_task

    from huey.contrib.djhuey import HUEY

    cart(site)
    with HUEY.lock_task(LOCK):
        with pytest.raises(TaskLockedException):
            detect_abandoned_task.call_local()
    assert Cart.objects.filter(abandoned_at__isnull=False).count() == 0
    assert detect_abandoned_task.call_local() == 1


# --- the agents' list ------------------------------------------------------------------------------

def test_agents_see_abandoned_carts_of_their_sites_with_value_step_contact_and_consent(site):
    other = make_site("other-store")
    alice = make_agent("alice", site)
    visitor = Visitor.objects.create(site=site, name="Ann", consent_sms=True, phone="+1 555 0100")
    cart(site, token="mine", visitor=visitor, email="ann@example.com", consent_email=True, step="payment",
         recovery_url="https://shop.example/recover/mine")
    cart(other, token="theirs")
    detect_abandoned(timezone.now())
    rows = abandoned_carts(alice)
    assert [r["cart_token"] for r in rows] == ["mine"]
    row = rows[0]
    assert (row["total"], row["currency"], row["checkout_step"], row["site"]) == ("80.00", "USD", "payment", "demo-store")
    assert row["contact"] == {"name": "Ann", "email": "ann@example.com", "phone": "+1 555 0100"}
    assert row["consent"] == {"email": True, "sms": True}
    assert row["recovery_url"] == "https://shop.example/recover/mine" and row["abandoned_at"]


def test_the_abandoned_carts_endpoint_needs_an_agent_session(site):
    alice = make_agent("alice", site)
    cart(site)
    detect_abandoned(timezone.now())
    assert Client().get("/api/v1/agent/abandoned-carts/").status_code == 403
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user("nobody", password="pw")
    client = Client()
    client.force_login(nobody)
    assert client.get("/api/v1/agent/abandoned-carts/").status_code == 403
    client.force_login(alice)
    response = client.get("/api/v1/agent/abandoned-carts/?site=demo-store&limit=5")
    assert response.status_code == 200
    assert [r["cart_token"] for r in response.json()["abandoned_carts"]] == ["c1"]
    assert client.get("/api/v1/agent/abandoned-carts/?limit=x").status_code == 400
    # A key of a site the agent does not serve shows nothing, never that site's carts.
    make_site("other-store")
    assert client.get("/api/v1/agent/abandoned-carts/?site=other-store").json()["abandoned_carts"] == []
