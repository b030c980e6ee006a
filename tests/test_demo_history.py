"""The demo history: seed_demo fills every figure of /reports/, the floor's "today" and the console's Follow-ups, once.

The real seed_demo runs on the test database (with a fast password hasher: its three PBKDF2 hashes per run
would cost seconds), then the figures are read the way people read them: the summary API over the last 30
days, the page's cards and series, the live floor, the call list, missed chats and left messages. The
product's own periodic rules (abandonment, follow-ups, offer expiry, missed chats) must find nothing to redo.
"""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from agents.console_state import recent_missed
from chatdesk import demo_history
from chatdesk.actions.abandonment import detect_abandoned
from chatdesk.actions.availability import pending_left_messages
from chatdesk.actions.calls import call_list
from chatdesk.actions.followups import scan_followups
from chatdesk.actions.offers import expire_offers
from chatdesk.actions.orders import cancel_order
from chatdesk.actions.sweeps import sweep_missed
from chatdesk.models import (
    CLOSE_REASONS, OFFER_KINDS, Cart, CartEvent, Conversation, InterventionAssignment, Offer, Order, Site, Visitor,
)
from chatdesk.reports.floor import floor_snapshot
from chatdesk.reports.metrics import SUMMARY_KEYS
from chatdesk.reports.present import cards
from chatdesk.reports.scope import Scope
from chatdesk.reports.series import all_series

pytestmark = pytest.mark.django_db
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHER


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--api-key", "k" * 24, "--webhook-secret", "s", *args, stdout=out)
    return out.getvalue()


def history_counts(site) -> dict:
    carts = demo_history.history_carts(site)
    return {
        "carts": carts.count(),
        "visitors": Visitor.objects.filter(carts__in=carts).distinct().count(),
        "conversations": Conversation.objects.filter(visitor__carts__in=carts).distinct().count(),
        "orders": Order.all_objects.filter(site=site, order_id__startswith=demo_history.ORDER_PREFIX).count(),
        "offers": Offer.objects.filter(conversation__site=site).count(),
        "assignments": InterventionAssignment.objects.filter(site=site).count(),
    }


def last_30_days() -> tuple[str, str]:
    today = timezone.now().date()
    return (today - timedelta(days=29)).isoformat(), today.isoformat()


def test_the_history_fills_every_figure_and_seeding_again_does_not_double_it(fast_passwords):
    printed = seed()
    site = Site.objects.get(key="demo-store")
    first = history_counts(site)
    assert f"{first['conversations']} conversations" in printed
    assert 250 <= first["conversations"] <= 450 and first["orders"] > 150

    # Something a person did in the demo meanwhile: a rebuild must not touch it. And one history order
    # cancelled by the store since: it is still the history's, and a rebuild must not trip over its id.
    cancel_order(site, Order.objects.filter(site=site, order_id__startswith=demo_history.ORDER_PREFIX).first().order_id)
    live = Visitor.objects.create(site=site)
    Cart.objects.create(site=site, cart_token="live-cart-1", visitor=live)
    now = timezone.now()
    Conversation.objects.create(site=site, visitor=live, queued_at=now, status=Conversation.CLOSED, closed_at=now)

    seed()
    assert history_counts(site) == first
    assert Conversation.objects.filter(visitor=live).count() == 1 and Cart.objects.filter(cart_token="live-cart-1").exists()

    start, end = last_30_days()
    client = Client()
    client.force_login(get_user_model().objects.get(username="sam"))
    response = client.get("/api/v1/reports/summary/", {"from": start, "to": end, "site": "demo-store"})
    assert response.status_code == 200
    s = response.json()
    assert [k for k in SUMMARY_KEYS if s[k] is None] == []
    assert [k for k, v in s["intervention"].items() if v is None] == []

    # Every conversation of the history is in the default 30 days, plus the one made live above.
    assert s["conversations"] == first["conversations"] + 1
    assert 0 < s["missed"] and 0 < s["missed_rate"] < 0.1
    assert 5 < s["wait_p50_s"] < s["wait_p90_s"] < 600
    assert s["wait_p50_s"] < s["first_response_p50_s"] < s["first_response_p90_s"] < 900
    assert 0.75 < s["csat"] < 0.95 and 0.2 < s["csat_response_rate"] < 0.7
    assert 0.1 < s["baseline_conversion_rate"] < s["chat_conversion_rate"] < 0.7  # chatted carts convert better
    assert s["attributed_orders"] > 50 and Decimal(s["attributed_revenue"]) > 0
    assert 0 < s["aov_uplift"] < 1
    assert 0 < s["offers_accepted"] < s["offers_made"] and 0.2 < s["offer_acceptance_rate"] < 0.7
    assert 0 < Decimal(s["offer_revenue"]) < Decimal(s["attributed_revenue"])
    assert 0 < s["recovered_carts"] < s["abandoned_carts"] and 0 < s["recovery_rate"] < 0.5
    reasons = s["abandonment_reasons"]
    assert max(reasons, key=reasons.get) == "extra_costs"  # Baymard's first reason is ours too
    assert sum(1 for code in CLOSE_REASONS if reasons[code] > 0) >= len(CLOSE_REASONS) - 2
    iv = s["intervention"]
    assert iv["treatment"] > iv["holdout"] >= 25
    assert 0.05 < iv["holdout"] / (iv["treatment"] + iv["holdout"]) < 0.15
    assert iv["ci_low"] < iv["lift"] < iv["ci_high"] and iv["lift"] > 0  # prompts help a little; the CI says how sure

    # The page: no card is a dash, every chart has something to draw.
    scope = Scope(timezone.now().date() - timedelta(days=29), timezone.now().date(), site=site)
    assert [c.key for c in cards(s) if c.value == "–"] == []
    data = all_series(scope, s)
    assert sum(1 for p in data["over_time"]["points"] if p["conversations"]) >= 25
    assert sum(1 for p in data["over_time"]["points"] if p["attributed_orders"]) >= 20
    assert all(sum(b["count"] for b in data["distributions"][k]) > 0 for k in ("wait", "first_response"))
    offers = {o["kind"]: o for o in data["offers"]}
    assert set(offers) == set(OFFER_KINDS) and all(o["made"] > 0 for o in offers.values())
    assert all(sum(o[status] for o in offers.values()) > 0 for status in ("accepted", "declined", "expired"))
    assert {a["username"] for a in data["agents"]} == {"alice", "bob"}
    assert sum(1 for p in data["load"]["points"] if p["taken"]) >= 25
    page = client.get("/reports/")
    assert page.status_code == 200 and b"No agent handled a conversation" not in page.content

    # An accepted discount whose code was used: the whole order is that offer's revenue.
    discounted = [o for o in Order.objects.filter(site=site, conversation__offers__kind="discount",
                                                   conversation__offers__status=Offer.ACCEPTED).distinct()
                  if o.discount_codes and o.offer_revenue == o.total]
    assert discounted

    # The live floor's "today" and the console's Follow-ups.
    now = timezone.now()
    if now.hour >= 3:  # a day a few hours old has had conversations
        assert floor_snapshot()["today"]["conversations"] > 0
    alice = get_user_model().objects.get(username="alice")
    assert len(call_list(alice, "open")) >= 2 and call_list(alice, "done")
    assert recent_missed(alice.agent_profile, [site.id], now)
    assert pending_left_messages(alice.agent_profile)

    # The product's periodic rules find the history already as they would have left it.
    assert detect_abandoned(now) == []
    assert scan_followups(now) == []
    assert expire_offers(now) == 0
    assert sweep_missed(now) == []
    abandoned = Cart.objects.filter(site=site, abandoned_at__isnull=False)
    assert abandoned.count() == CartEvent.objects.filter(cart__in=abandoned, kind=CartEvent.ABANDONED).count()


def test_no_history_leaves_the_history_alone(fast_passwords):
    seed("--no-history")
    site = Site.objects.get(key="demo-store")
    assert not demo_history.has_history(site) and not Conversation.objects.exists()


def test_the_plan_depends_only_on_the_seed_and_the_clock(fast_passwords):
    seed("--no-history")
    site = Site.objects.get(key="demo-store")
    agents = list(get_user_model().objects.filter(username__in=["alice", "bob"]).order_by("username"))
    now = timezone.now()

    def fingerprint(seed_value):
        planner = demo_history.Planner(site, agents, now, seed=seed_value)
        plan = planner.build()
        return ([(m.sender, m.text, m.created_at) for m in plan.messages],
                [(c.token, c.totals["total"], [e.kind for e in c.events]) for c in planner.carts],
                [(o.order_id, o.total, o.created_at) for o in plan.orders])

    first = fingerprint(7)
    assert fingerprint(7) == first
    assert fingerprint(8) != first
