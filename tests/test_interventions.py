"""Intervention rules: each condition with time controlled, the holdout split, arms that never change, prompts."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chatdesk import interventions as logic
from chatdesk.actions import interventions as actions
from chatdesk.actions.carts import record_widget_cart
from chatdesk.errors import ActionError
from chatdesk.interventions import ShopperState
from chatdesk.models import (Cart, CartEvent, Conversation, InterventionAssignment, InterventionEvent,
                             InterventionRule, Visitor)

from .conftest import widget

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=dt_timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- conditions, one by one, with time passed in ---------------------------------------------------

def test_checkout_step_holds_only_on_the_listed_steps():
    rule = {"checkout_step": ["shipping", "payment"]}
    assert logic.holds(rule, ShopperState(now=T0, checkout_step="shipping"))
    assert not logic.holds(rule, ShopperState(now=T0, checkout_step="cart"))
    assert not logic.holds(rule, ShopperState(now=T0, checkout_step=None))


def test_idle_seconds_holds_once_the_shopper_has_been_still_that_long():
    rule = {"checkout_step": ["payment"], "idle_seconds": 45}
    still_since = at(0)
    assert not logic.holds(rule, ShopperState(now=at(44.9), checkout_step="payment", idle_since=still_since))
    assert logic.holds(rule, ShopperState(now=at(45), checkout_step="payment", idle_since=still_since))
    assert not logic.holds(rule, ShopperState(now=at(45), checkout_step="payment", idle_since=None))
    assert logic.idle_due_at(rule, ShopperState(now=at(10), checkout_step="payment", idle_since=still_since)) == at(45)
    # On another step the idle rule can never come due.
    assert logic.idle_due_at(rule, ShopperState(now=at(10), checkout_step="cart", idle_since=still_since)) is None


def test_min_cart_value_compares_decimals():
    rule = {"min_cart_value": "50.00"}
    assert logic.holds(rule, ShopperState(now=T0, cart_value=Decimal("50.00")))
    assert not logic.holds(rule, ShopperState(now=T0, cart_value=Decimal("49.99")))
    assert not logic.holds(rule, ShopperState(now=T0, cart_value=None))


def test_shipping_newly_shown_holds_within_its_window_only():
    rule = {"shipping_newly_shown": 120}
    shown = at(0)
    assert logic.holds(rule, ShopperState(now=at(0), shipping_shown_at=shown))
    assert logic.holds(rule, ShopperState(now=at(120), shipping_shown_at=shown))
    assert not logic.holds(rule, ShopperState(now=at(121), shipping_shown_at=shown))
    assert not logic.holds(rule, ShopperState(now=at(5), shipping_shown_at=None))


def test_returning_with_abandoned_cart_needs_an_earlier_abandoned_cart():
    rule = {"returning_with_abandoned_cart": True}
    assert logic.holds(rule, ShopperState(now=T0, has_abandoned_cart=True))
    assert not logic.holds(rule, ShopperState(now=T0, has_abandoned_cart=False))


def test_exit_intent_is_only_ever_met_by_the_widget():
    rule = {"exit_intent": True, "min_cart_value": "20.00"}
    state = ShopperState(now=T0, cart_value=Decimal("30.00"))
    assert logic.runs_in_widget(rule)
    assert not logic.holds(rule, state)  # the server cannot see the pointer
    assert logic.holds(rule, state, from_widget=True)
    assert not logic.holds(rule, ShopperState(now=T0, cart_value=Decimal("10.00")), from_widget=True)


@pytest.mark.parametrize("pattern, url, ok", [
    ("/checkout", "https://shop.example/checkout/payment?x=1", True),
    ("/checkout", "https://shop.example/cart", False),
    ("/products/[^/]+$", "https://shop.example/products/tee", True),
    ("^https://shop\\.example/cart$", "https://shop.example/cart", True),
    ("^https://shop\\.example/cart$", "https://shop.example/cart?step=2", False),
    ("step=(2|3)", "https://shop.example/cart?step=2", True),
    ("(unclosed", "https://shop.example/(unclosed", False),
])
def test_url_pattern_is_a_regular_expression_searched_in_the_url(pattern, url, ok):
    assert logic.url_matches(pattern, url) is ok
    assert logic.holds({"url_pattern": pattern}, ShopperState(now=T0, url=url), from_widget=True)  # widget's word
    assert logic.holds({"url_pattern": pattern}, ShopperState(now=T0, url=url)) is ok


def test_conditions_are_validated_and_normalised():
    assert logic.validate_conditions({"checkout_step": "payment", "min_cart_value": 50, "exit_intent": True}) == {
        "checkout_step": ["payment"], "min_cart_value": "50.00", "exit_intent": True}
    for bad in ({"checkout_step": ["checkout"]}, {"idle_seconds": 0}, {"idle_seconds": "45"}, {"min_cart_value": "x"},
                {"exit_intent": "yes"}, {"url_pattern": ""}, {"url_pattern": "(unclosed"},
                {"url_pattern": "(?P<x>a)"}, {"colour": "red"}, ["checkout_step"]):
        with pytest.raises(logic.ConditionError):
            logic.validate_conditions(bad)


def test_the_widget_is_told_only_what_it_evaluates():
    rule = {"exit_intent": True, "checkout_step": ["payment"], "min_cart_value": "40.00",
            "returning_with_abandoned_cart": True}
    assert logic.widget_when(rule) == {"exit_intent": True, "checkout_step": ["payment"], "min_cart_value": "40.00"}


# --- the holdout --------------------------------------------------------------------------------

def test_the_arm_draw_matches_the_holdout_share_within_four_standard_deviations():
    # 100 000 unseeded draws at 10%: sd = sqrt(n p (1-p)) = 94.9; a miss by 4 sd happens once in ~16 000 runs.
    n, share = 100_000, 0.10
    holdout = sum(logic.draw_arm(random.SystemRandom(), share) == logic.HOLDOUT for _ in range(n))
    assert abs(holdout - n * share) <= 4 * math.sqrt(n * share * (1 - share))


@pytest.mark.django_db
def test_the_holdout_split_over_many_shoppers_is_within_tolerance_and_stored(site):
    """600 shoppers meet a rule (seeded RNG): holdout within 3 sd of 10% (60 +- 22), each arm stored once."""
    rule = InterventionRule.objects.create(site=site, trigger="payment-idle", name="r", text="Need help?",
                                           conditions={"checkout_step": ["payment"]}, max_per_visitor=5)
    rng = random.Random(20250501)
    visitors = Visitor.objects.bulk_create(Visitor(site=site) for _ in range(600))
    arms = [actions.fire(v, rule, at(i), rng, idle_since=at(i)) for i, v in enumerate(visitors)]
    holdout = arms.count("holdout")
    assert abs(holdout - 60) <= 3 * math.sqrt(600 * 0.1 * 0.9), holdout
    assert InterventionAssignment.objects.filter(site=site).count() == 600
    assert InterventionAssignment.objects.filter(arm="holdout").count() == holdout


@pytest.mark.django_db
def test_a_shoppers_arm_never_changes(site):
    site.holdout_share = Decimal("0.500")
    site.save()
    rule = InterventionRule.objects.create(site=site, trigger="t", name="r", text="Hi", max_per_visitor=100)
    other = InterventionRule.objects.create(site=site, trigger="u", name="r2", text="Hi", max_per_visitor=100)
    visitor = Visitor.objects.create(site=site)
    first = actions.fire(visitor, rule, at(0), random.Random(1), idle_since=at(0))
    # Whatever later draws would say, the stored arm is kept.
    for i in range(1, 40):
        assert actions.fire(visitor, rule if i % 2 else other, at(i * 10), random.Random(i), idle_since=at(i * 10)) == first
    assert InterventionAssignment.objects.filter(visitor=visitor).count() == 1


@pytest.mark.django_db
def test_the_frequency_cap_counts_both_arms_alike(site):
    rule = InterventionRule.objects.create(site=site, trigger="t", name="r", text="Hi", max_per_visitor=2)
    for share in ("0.000", "1.000"):  # all treatment, then all holdout
        site.holdout_share = Decimal(share)
        site.save()
        visitor = Visitor.objects.create(site=site)
        fired = [actions.fire(visitor, rule, at(i * 60), idle_since=at(i * 60)) for i in range(4)]
        assert fired[2:] == [None, None] and None not in fired[:2]
        assert InterventionEvent.objects.filter(assignment__visitor=visitor, action="triggered").count() == 2


@pytest.mark.django_db
def test_no_trigger_while_the_shopper_is_in_a_conversation_or_without_news(site, alice):
    rule = InterventionRule.objects.create(site=site, trigger="t", name="r", text="Hi", max_per_visitor=3)
    visitor = Visitor.objects.create(site=site)
    assert actions.fire(visitor, rule, at(0), idle_since=at(0))
    assert actions.fire(visitor, rule, at(30), idle_since=at(0)) is None  # same idle spell: once
    Conversation.objects.create(site=site, visitor=visitor, queued_at=at(40))
    assert actions.fire(visitor, rule, at(60), idle_since=at(50)) is None


# --- server rules on the cart, with time controlled -----------------------------------------------

def _present(site) -> Visitor:
    return Visitor.objects.create(site=site, connected_sockets=1)


def _cart(visitor, step="shipping", shipping="0.00", total_items=1):
    return record_widget_cart(visitor, {"currency": "USD", "checkout_step": step, "shipping": shipping,
                                        "items": [{"sku": "TEE-1", "quantity": total_items, "unit_price": "30.00"}]})


@pytest.mark.django_db
def test_shipping_shock_fires_when_shipping_first_appears(site):
    site.holdout_share = Decimal("0")
    site.save()
    InterventionRule.objects.create(site=site, trigger="shipping-shock", name="r", text="Shipping questions?",
                                    conditions={"shipping_newly_shown": 120, "min_cart_value": "25.00"})
    visitor = _present(site)
    _cart(visitor)  # no shipping yet: nothing
    assert not InterventionEvent.objects.exists()
    _cart(visitor, shipping="9.00")  # shipping appears: the rule fires on this cart frame
    event = InterventionEvent.objects.get()
    assert (event.trigger, event.action, event.assignment.arm) == ("shipping-shock", "triggered", "treatment")
    later = timezone.now() + timedelta(seconds=121)
    assert actions.check_server_rules(visitor, later) == []


@pytest.mark.django_db
def test_idle_on_a_step_fires_from_the_sweep_at_its_time(site):
    InterventionRule.objects.create(site=site, trigger="payment-idle", name="r", text="Stuck on payment?",
                                    conditions={"checkout_step": ["payment"], "idle_seconds": 45})
    visitor = _present(site)
    cart = _cart(visitor, step="payment")
    still = cart.last_activity_at
    fired, later = actions.sweep_idle(still + timedelta(seconds=30))
    assert fired == [] and later == [(visitor.pk, still + timedelta(seconds=45))]
    fired, later = actions.sweep_idle(still + timedelta(seconds=46))
    assert fired == ["payment-idle"] and later == []
    assert actions.sweep_idle(still + timedelta(seconds=120)) == ([], [])  # once per idle spell


@pytest.mark.django_db
def test_idle_rules_ignore_shoppers_who_left(site):
    InterventionRule.objects.create(site=site, trigger="idle", name="r", text="?", conditions={"idle_seconds": 10})
    visitor = _present(site)
    cart = _cart(visitor)
    Visitor.objects.filter(pk=visitor.pk).update(connected_sockets=0)
    assert actions.sweep_idle(cart.last_activity_at + timedelta(minutes=5)) == ([], [])
    assert not InterventionEvent.objects.exists()


@pytest.mark.django_db
def test_returning_with_an_abandoned_cart_fires_on_return(site):
    site.holdout_share = Decimal("0")
    site.save()
    InterventionRule.objects.create(site=site, trigger="welcome-back", name="r", text="Welcome back!",
                                    conditions={"returning_with_abandoned_cart": True})
    visitor = _present(site)
    assert actions.check_server_rules(visitor) == []
    cart = Cart.objects.create(site=site, cart_token="old", visitor=visitor)
    CartEvent.objects.create(cart=cart, kind=CartEvent.ABANDONED, created_at=timezone.now())
    assert actions.check_server_rules(visitor) == ["welcome-back"]


# --- widget rules and the socket ------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_widget_rules_come_in_welcome_and_a_triggered_rule_prompts_treatment_only(site):
    await sync_to_async(InterventionRule.objects.create)(
        site=site, trigger="exit-save", name="r", text="Before you go: free returns!",
        conditions={"exit_intent": True, "min_cart_value": "20.00"}, max_per_visitor=1)
    await sync_to_async(InterventionRule.objects.create)(
        site=site, trigger="server-only", name="s", text="x", conditions={"idle_seconds": 30})
    site.holdout_share = Decimal("0")
    await sync_to_async(site.save)()

    shopper = await widget()
    assert shopper.welcome["interventions"] == [
        {"trigger": "exit-save", "text": "Before you go: free returns!",
         "when": {"exit_intent": True, "min_cart_value": "20.00"}}]
    await shopper.send({"type": "cart", "cart": {"currency": "USD", "items": [
        {"sku": "TEE-1", "quantity": 1, "unit_price": "25.00"}]}})
    await shopper.send({"type": "intervention", "trigger": "exit-save", "action": "triggered"})
    prompt = await shopper.expect("prompt")
    assert prompt == {"type": "prompt", "trigger": "exit-save", "text": "Before you go: free returns!"}
    for action in ("shown", "accepted", "accepted"):  # a repeat is ignored
        await shopper.send({"type": "intervention", "trigger": "exit-save", "action": action})
    await shopper.send({"type": "ping"})
    await shopper.expect("pong")
    actions_seen = await sync_to_async(list)(InterventionEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions_seen == ["triggered", "shown", "accepted"]
    # Capped now: a new connection no longer gets the rule.
    again = await widget(token=shopper.welcome["visitor_token"])
    assert again.welcome["interventions"] == []
    await shopper.close()
    await again.close()


@pytest.mark.django_db(transaction=True)
async def test_the_holdout_never_sees_the_prompt_but_is_counted(site):
    await sync_to_async(InterventionRule.objects.create)(
        site=site, trigger="exit-save", name="r", text="Wait!", conditions={"exit_intent": True})
    site.holdout_share = Decimal("1.000")
    await sync_to_async(site.save)()
    shopper = await widget()
    await shopper.send({"type": "intervention", "trigger": "exit-save", "action": "triggered"})
    await shopper.send({"type": "ping"})
    frames = [f["type"] for f in await shopper.drain(0.5)]
    assert "prompt" not in frames and "pong" in frames
    await shopper.send({"type": "intervention", "trigger": "exit-save", "action": "shown"})
    error = await shopper.expect("error")
    assert error["code"] == "not_prompted"
    assignment = await sync_to_async(InterventionAssignment.objects.get)()
    assert assignment.arm == "holdout"
    assert await sync_to_async(InterventionEvent.objects.filter(action="triggered").count)() == 1
    await shopper.close()


@pytest.mark.django_db(transaction=True)
async def test_a_server_rule_prompts_over_the_socket_on_a_cart_frame(site):
    await sync_to_async(InterventionRule.objects.create)(
        site=site, trigger="big-cart", name="r", text="Questions about your order?",
        conditions={"min_cart_value": "100.00", "checkout_step": ["shipping"]})
    site.holdout_share = Decimal("0")
    await sync_to_async(site.save)()
    shopper = await widget()
    await shopper.send({"type": "cart", "cart": {"currency": "USD", "checkout_step": "shipping", "items": [
        {"sku": "COAT", "quantity": 1, "unit_price": "150.00"}]}})
    prompt = await shopper.expect("prompt")
    assert prompt["trigger"] == "big-cart"
    await shopper.close()


@pytest.mark.django_db(transaction=True)
async def test_bad_intervention_frames_get_errors_and_store_nothing(site):
    await sync_to_async(InterventionRule.objects.create)(site=site, trigger="srv", name="r", text="x",
                                                         conditions={"min_cart_value": "1000.00"})
    shopper = await widget()
    for frame, code in [
        ({"type": "intervention", "trigger": "nope", "action": "triggered"}, "unknown_trigger"),
        ({"type": "intervention", "trigger": "srv", "action": "triggered"}, "not_a_widget_rule"),
        ({"type": "intervention", "trigger": "srv", "action": "clicked"}, "invalid_field"),
        ({"type": "intervention", "trigger": "srv", "action": "dismissed"}, "not_prompted"),
    ]:
        await shopper.send(frame)
        assert (await shopper.expect("error"))["code"] == code
    assert await sync_to_async(InterventionEvent.objects.count)() == 0
    assert await sync_to_async(InterventionAssignment.objects.count)() == 0
    await shopper.close()


@pytest.mark.django_db
def test_a_widget_trigger_the_server_knows_to_be_false_does_not_fire(site):
    InterventionRule.objects.create(site=site, trigger="exit-big", name="r", text="x",
                                    conditions={"exit_intent": True, "min_cart_value": "100.00"})
    visitor = _present(site)
    _cart(visitor)  # 30.00: the store's (or the widget's) cart on the server is what counts
    assert actions.widget_triggered(visitor, "exit-big") is None
    assert not InterventionEvent.objects.exists()
    with pytest.raises(ActionError):
        actions.record_intervention(visitor, "exit-big", "shown")


@pytest.mark.django_db
def test_the_admin_form_refuses_bad_conditions_and_normalises_good_ones(site):
    from chatdesk.admin import InterventionRuleForm

    base = {"site": site.pk, "trigger": "exit-save", "name": "Exit", "enabled": True, "text": "Wait!",
            "max_per_visitor": 1, "order": 0}
    bad = InterventionRuleForm(data={**base, "conditions": '{"checkout_step": ["checkout"]}'})
    assert not bad.is_valid() and "conditions" in bad.errors
    good = InterventionRuleForm(data={**base, "conditions": '{"exit_intent": true, "min_cart_value": 40}'})
    assert good.is_valid(), good.errors
    assert good.save().conditions == {"exit_intent": True, "min_cart_value": "40.00"}


@pytest.mark.django_db
def test_seed_demo_brings_example_rules_switched_off_and_valid():
    from django.core.management import call_command

    call_command("seed_demo", "--password", "x", "--api-key", "k" * 20, "--webhook-secret", "s", "--no-history")
    rules = InterventionRule.objects.filter(site__key="demo-store")
    assert rules.count() == 3 and not rules.filter(enabled=True).exists()
    for rule in rules:
        assert logic.validate_conditions(rule.conditions) == rule.conditions


@pytest.mark.django_db
def test_server_rules_also_run_for_carts_stored_directly_by_apply_cart(site):
    """The demo store hands its carts to apply_cart itself: its carts must trigger rules like any other."""
    from chatdesk.actions.carts import apply_cart, validate_cart

    site.holdout_share = Decimal("0")
    site.save()
    InterventionRule.objects.create(site=site, trigger="big", name="r", text="Hi", conditions={"min_cart_value": "10.00"})
    visitor = _present(site)
    clean = validate_cart({"items": [{"sku": "A", "quantity": 1, "unit_price": "12.00"}]})
    apply_cart(site, "demo-1", clean, "store", visitor)
    assert InterventionEvent.objects.filter(trigger="big", action="triggered").count() == 1


# --- proactive conversations ----------------------------------------------------------------------

def _open_by_message(visitor, client_id="m1"):
    from chatdesk.actions.conversations import post_shopper_message

    msg, _ = post_shopper_message(visitor, client_id, "Hello")
    return Conversation.objects.get(pk=msg.conversation_id)


@pytest.mark.django_db
def test_a_conversation_opened_after_accepting_a_rule_prompt_is_proactive_and_the_next_one_is_not(site):
    site.holdout_share = Decimal("0")
    site.save()
    rule = InterventionRule.objects.create(site=site, trigger="t", name="r", text="Hi", max_per_visitor=3)
    visitor = Visitor.objects.create(site=site)
    assert actions.fire(visitor, rule, timezone.now(), idle_since=timezone.now()) == "treatment"
    actions.record_intervention(visitor, "t", "shown")
    actions.record_intervention(visitor, "t", "accepted")
    first = _open_by_message(visitor)
    assert first.proactive
    first.status = Conversation.CLOSED
    first.save()
    # One acceptance starts one conversation: coming back later is the shopper's own idea.
    assert not _open_by_message(visitor, "m2").proactive


@pytest.mark.django_db
def test_a_dismissed_or_stale_acceptance_does_not_make_a_conversation_proactive(site):
    site.holdout_share = Decimal("0")
    site.save()
    rule = InterventionRule.objects.create(site=site, trigger="t", name="r", text="Hi", max_per_visitor=3)
    dismissed, stale = Visitor.objects.create(site=site), Visitor.objects.create(site=site)
    for v in (dismissed, stale):
        actions.fire(v, rule, timezone.now(), idle_since=timezone.now())
    actions.record_intervention(dismissed, "t", "dismissed")
    actions.record_intervention(stale, "t", "accepted", now=timezone.now() - actions.PROACTIVE_WINDOW - timedelta(seconds=1))
    assert not _open_by_message(dismissed).proactive
    assert not _open_by_message(stale).proactive


@pytest.mark.django_db
def test_accepting_an_agents_invitation_makes_the_conversation_proactive_only_if_one_was_sent(site):
    invited, uninvited = Visitor.objects.create(site=site), Visitor.objects.create(site=site)
    with pytest.raises(ActionError) as refused:
        actions.record_intervention(uninvited, "agent_invite", "accepted")
    assert refused.value.code == "not_prompted"
    uninvited.refresh_from_db()
    assert uninvited.prompt_accepted_at is None
    actions.mark_invited(invited)
    actions.record_intervention(invited, "agent_invite", "shown")
    actions.record_intervention(invited, "agent_invite", "accepted")
    # An invitation is not a rule: no arm drawn, no event counted towards the lift.
    assert not InterventionAssignment.objects.exists() and not InterventionEvent.objects.exists()
    assert _open_by_message(invited).proactive
    assert not _open_by_message(uninvited).proactive
