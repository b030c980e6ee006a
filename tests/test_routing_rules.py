"""Priority, queue order, positions, queues (teams), visibility and waiting-time estimates, as plain functions."""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from agents.models import Team
from chatdesk.actions.queue import (
    PICKUP_SECONDS, Staffing, average_handle_seconds, estimate_wait, position_of, queue_frames, queued, visible_queue,
)
from chatdesk.events import agent_group, visitor_group
from chatdesk.models import Conversation
from chatdesk.routing import current_priority, priority_key
from chatdesk.serialize import conversation_summary

from .conftest import make_site
from .routing_support import T0, agent, make_active, make_waiting, set_online

pytestmark = pytest.mark.django_db

STEP = {"cart": 0, "contact": 1, "shipping": 2, "payment": 3, "review": 4, "complete": 5}


def documented_priority(site, total, step, returning, queued_at, now):
    """The formula of docs/routing.md, written out independently of the code."""
    return (
        float(total or 0) * site.weight_cart_value
        + STEP.get(step or "", 0) * site.weight_checkout_step
        + (site.weight_returning if returning else 0)
        + site.weight_wait * (now - queued_at).total_seconds()
    )


def known_queue(site):
    """Six waiting shoppers whose priorities at T0+600 s are 1400, 1202, 640, 500, 240 and 240."""
    spec = {
        "A": dict(total="300.00", step="cart", queued_at=T0 + timedelta(seconds=500)),
        "B": dict(total="50.00", step="payment", queued_at=T0),
        "C": dict(returning=True, queued_at=T0 + timedelta(seconds=300)),
        "D": dict(total="120.00", step="shipping", queued_at=T0 + timedelta(seconds=590)),
        "E": dict(total="1000.00", step="review", queued_at=T0 + timedelta(seconds=599)),
        "H": dict(step="contact", queued_at=T0 + timedelta(seconds=505)),
    }
    convs = {name: make_waiting(site, **kw) for name, kw in spec.items()}
    return spec, convs


def test_priority_is_exactly_the_documented_formula_with_the_site_weights(site):
    site.weight_cart_value, site.weight_checkout_step, site.weight_wait, site.weight_returning = 0.5, 30.0, 1.5, 25.0
    site.save()
    conv = make_waiting(site, total="80.00", step="shipping", returning=True, queued_at=T0)
    now = T0 + timedelta(seconds=100)
    expected = 80 * 0.5 + 2 * 30 + 25 + 1.5 * 100
    assert current_priority(conv, now) == pytest.approx(expected, abs=1e-6)
    assert conversation_summary(conv, now)["priority"] == round(expected, 2)
    # The stored key is free of time: priority(t) - weight_wait * t.
    assert conv.priority_key == pytest.approx(expected - 1.5 * now.timestamp(), abs=1e-3)


def test_queue_order_and_each_shoppers_position_are_exactly_as_the_rule_says(site):
    spec, convs = known_queue(site)
    now = T0 + timedelta(seconds=600)
    expected = {
        name: documented_priority(site, kw.get("total"), kw.get("step"), kw.get("returning"), kw["queued_at"], now)
        for name, kw in spec.items()
    }
    assert expected == {"A": 500, "B": 1400, "C": 640, "D": 240, "E": 1202, "H": 240}
    # Higher priority first; D and H tie at 240 and H has waited longer.
    order = ["B", "E", "C", "A", "H", "D"]
    assert [c.id for c in queued([site.id])] == [convs[n].id for n in order]
    for place, name in enumerate(order, start=1):
        assert position_of(Conversation.objects.get(pk=convs[name].id)) == place
    sent = queue_frames(site, now)
    shopper = {f["conversation_id"]: f["position"] for g, f in sent if g.startswith("visitor.")}
    assert shopper == {convs[n].id: place for place, n in enumerate(order, start=1)}
    # The order is the same at any later instant: only the ageing term grows, equally for all.
    later = now + timedelta(hours=5)
    ranked = sorted(convs, key=lambda n: (-current_priority(convs[n], later), convs[n].queued_at))
    assert ranked == order


def test_ageing_means_a_new_bigger_cart_jumps_ahead_only_until_the_wait_makes_up_the_difference(site):
    small = make_waiting(site, total="10.00", queued_at=T0)
    # 200 more in cart value is worth 200 / weight_wait = 100 s of waiting.
    early_big = make_waiting(site, total="210.00", queued_at=T0 + timedelta(seconds=50))
    late_big = make_waiting(site, total="210.00", queued_at=T0 + timedelta(seconds=150))
    assert [c.id for c in queued([site.id])] == [early_big.id, small.id, late_big.id]
    now = T0 + timedelta(seconds=150)
    assert current_priority(small, now) == pytest.approx(10 + 2 * 150)
    assert current_priority(late_big, now) == pytest.approx(210)


def test_time_free_key_orders_like_current_priority_at_any_instant(site):
    rng = random.Random(7)
    convs = [
        make_waiting(site, total=f"{rng.randint(0, 500)}.00", step=rng.choice(list(STEP)),
                     returning=rng.random() < 0.3, queued_at=T0 + timedelta(seconds=rng.randint(0, 3600)))
        for _ in range(12)
    ]
    stored = [c.id for c in queued([site.id])]
    for minutes in (60, 90, 600):
        now = T0 + timedelta(minutes=minutes)
        by_formula = sorted(convs, key=lambda c: (-round(current_priority(c, now), 6), c.queued_at, c.id))
        assert [c.id for c in by_formula] == stored


def test_carts_at_or_over_a_teams_minimum_wait_in_that_queue_and_positions_count_per_queue(site):
    high = Team.objects.create(site=site, name="High value", min_cart_value=Decimal("500.00"))
    Team.objects.create(site=site, name="Returns")  # no rule: only reached by transfer
    spec, convs = known_queue(site)
    assert convs["E"].team_id == high.id
    assert all(convs[n].team_id is None for n in "ABCDH")
    exactly = make_waiting(site, total="500.00", queued_at=T0 + timedelta(seconds=600))
    assert exactly.team_id == high.id
    # Positions count within the shopper's own queue.
    assert position_of(Conversation.objects.get(pk=convs["E"].id)) == 1
    assert position_of(Conversation.objects.get(pk=exactly.id)) == 2
    assert position_of(Conversation.objects.get(pk=convs["C"].id)) == 2  # B, then C in the general queue


def test_rules_are_tried_in_the_teams_order(site):
    Team.objects.create(site=site, name="Big", min_cart_value=Decimal("100.00"), order=2)
    vip = Team.objects.create(site=site, name="VIP", min_cart_value=Decimal("50.00"), order=1)
    assert make_waiting(site, total="150.00").team_id == vip.id


def test_a_cart_change_moves_a_waiting_conversation_between_queues_unless_an_agent_chose_the_queue(site):
    from chatdesk.actions.carts import record_widget_cart

    from .routing_support import committed

    high = Team.objects.create(site=site, name="High value", min_cart_value=Decimal("500.00"))
    returns = Team.objects.create(site=site, name="Returns")
    conv = make_waiting(site, total="20.00")
    with committed():
        record_widget_cart(conv.visitor, {"cart_token": conv.cart.cart_token, "currency": "USD",
                                          "items": [{"sku": "TV", "name": "TV", "quantity": 1, "unit_price": "900.00"}]})
    conv.refresh_from_db()
    assert conv.team_id == high.id
    pinned = make_waiting(site, total="20.00", pinned_team=returns)
    with committed():
        record_widget_cart(pinned.visitor, {"cart_token": pinned.cart.cart_token, "currency": "USD",
                                            "items": [{"sku": "TV", "name": "TV", "quantity": 1, "unit_price": "900.00"}]})
    pinned.refresh_from_db()
    assert pinned.team_id == returns.id


def test_an_agent_sees_only_their_sites_general_queue_and_their_teams_queues(site):
    other = make_site("other-shop")
    high = Team.objects.create(site=site, name="High value", min_cart_value=Decimal("500.00"))
    general = make_waiting(site, total="20.00")
    big = make_waiting(site, total="900.00")
    elsewhere = make_waiting(other, total="20.00")
    alice, bob = agent("alice", site), agent("bob", site)
    alice.agent_profile.teams.add(high)
    both = agent("carol", site)
    both.agent_profile.sites.add(other)
    assert [c.id for c in visible_queue(alice.agent_profile)] == [big.id, general.id]
    assert [c.id for c in visible_queue(bob.agent_profile)] == [general.id]
    assert {c.id for c in visible_queue(both.agent_profile)} == {general.id, elsewhere.id}
    for user in (alice, bob):
        set_online(user)
    sent = dict(queue_frames(site))
    assert [s["id"] for s in sent[agent_group(alice.id)]["queue"]] == [big.id, general.id]
    assert [s["id"] for s in sent[agent_group(bob.id)]["queue"]] == [general.id]
    assert agent_group(both.id) not in sent  # offline with no console open: nothing to tell


def test_claiming_a_teams_conversation_needs_membership(site):
    from chatdesk.actions.conversations import claim
    from chatdesk.errors import ActionError

    high = Team.objects.create(site=site, name="High value", min_cart_value=Decimal("500.00"))
    big = make_waiting(site, total="900.00")
    bob = agent("bob", site)
    with pytest.raises(ActionError) as refused:
        claim(bob, big.id)
    assert refused.value.code == "forbidden"
    assert Conversation.objects.get(pk=big.id).status == Conversation.QUEUED
    bob.agent_profile.teams.add(high)
    assert claim(bob, big.id).agent_id == bob.id


def test_estimated_wait_follows_free_slots_handling_time_and_capacity():
    assert estimate_wait(1, Staffing(0, 0, 0), 240) is None
    staff = Staffing(agents_online=2, capacity=6, free=2)
    assert estimate_wait(1, staff, 240) == PICKUP_SECONDS
    assert estimate_wait(2, staff, 240) == PICKUP_SECONDS
    # Third in line: one ahead of the free slots; a slot frees every 240 / 6 = 40 s.
    assert estimate_wait(3, staff, 240) == PICKUP_SECONDS + 40
    assert estimate_wait(7, staff, 240) == PICKUP_SECONDS + 200
    assert estimate_wait(4, Staffing(1, 3, 0), 100) == PICKUP_SECONDS + 134  # ceil(4 * 100 / 3)


def test_handling_time_is_the_mean_of_the_sites_recent_closed_conversations(site):
    from django.utils import timezone

    alice = agent("alice", site)
    now = timezone.now()
    assert average_handle_seconds(site, now) == 240  # nothing to learn from yet
    for minutes in (2, 4, 6):
        conv = make_active(site, alice, assigned_at=now - timedelta(hours=1))
        Conversation.objects.filter(pk=conv.pk).update(
            status=Conversation.CLOSED, closed_at=now - timedelta(hours=1) + timedelta(minutes=minutes),
        )
    old = make_active(site, alice, assigned_at=now - timedelta(days=10))
    Conversation.objects.filter(pk=old.pk).update(status=Conversation.CLOSED, closed_at=now - timedelta(days=9))
    assert average_handle_seconds(site, now) == 240.0  # (120 + 240 + 360) / 3; the old one is out of the window


def test_queue_frames_give_each_shopper_position_and_eta_from_agents_online(site):
    alice, _bob = agent("alice", site), agent("bob", site)
    a, b = make_waiting(site, queued_at=T0), make_waiting(site, queued_at=T0 + timedelta(seconds=1))
    set_online(alice).__class__.objects.filter(user=alice).update(capacity=1)
    make_active(site, alice)  # alice is full: no free slot
    sent = queue_frames(site, T0 + timedelta(seconds=5))
    by_conv = {f["conversation_id"]: f for g, f in sent if g.startswith("visitor.")}
    assert by_conv[a.id] == {"type": "queue", "conversation_id": a.id, "position": 1,
                             "eta_seconds": PICKUP_SECONDS + 240, "agents_online": 1}
    assert by_conv[b.id]["position"] == 2 and by_conv[b.id]["eta_seconds"] == PICKUP_SECONDS + 480
    groups = [g for g, f in sent if f["type"] == "queue" and "conversation_id" in f]
    assert groups == [visitor_group(a.visitor.public_id), visitor_group(b.visitor.public_id)]


def test_priority_key_is_monotonic_in_queue_time(site):
    # Earlier in the queue with the same stake always ranks higher.
    assert priority_key(site, 100.0, T0) > priority_key(site, 100.0, T0 + timedelta(microseconds=1))
