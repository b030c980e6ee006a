"""Proactive prompts: each shopper's arm (drawn once), triggers under a frequency cap, prompts, their fate.

The rules themselves are plain logic in `chatdesk.interventions`; this
module gathers what the server knows of a shopper, records what happens and
sends `prompt` frames (only ever to the treatment arm).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from .. import hotreads
from .. import interventions as logic
from .carts import UNREAD
from ..errors import ActionError
from ..events import emit, visitor_group
from ..models import (CartEvent, Conversation, InterventionAssignment, InterventionEvent, InterventionRule, Visitor)

_system_rng = random.SystemRandom()


def shopper_state(visitor: Visitor, now: datetime, cart=UNREAD) -> logic.ShopperState:
    """The shopper as the rules see them: current step and cart, idle time, shipping news, earlier abandonment."""
    from .carts import current_cart

    if cart is UNREAD:
        cart = current_cart(visitor)
    step = cart.checkout_step if cart else None
    if visitor.checkout_step and visitor.step_changed_at and (
        cart is None or cart.last_activity_at is None or visitor.step_changed_at >= cart.last_activity_at
    ):
        step = visitor.checkout_step  # the page said more recently where the shopper is
    moments = [t for t in (cart.last_activity_at if cart else None, visitor.step_changed_at) if t]
    shipping_at = None
    if cart is not None:
        shipping_at = (cart.events.filter(kind=CartEvent.SHIPPING_SHOWN).order_by("-created_at")
                       .values_list("created_at", flat=True).first())
    abandoned = CartEvent.objects.filter(kind=CartEvent.ABANDONED, cart__visitor=visitor,
                                         cart__ordered_at__isnull=True).exists()
    return logic.ShopperState(
        now=now, checkout_step=step, idle_since=max(moments) if moments else None,
        cart_value=cart.total if cart else None, shipping_shown_at=shipping_at,
        has_abandoned_cart=abandoned, url=visitor.current_url,
    )


@hotreads.statement
def _enabled_rules_sql() -> str:
    # A hot read (chatdesk.hotreads): every hello asks.
    return (f"SELECT * FROM {hotreads.table(InterventionRule)} WHERE site_id = %s AND enabled = %s "
            f"ORDER BY {connection.ops.quote_name('order')}, id")


def enabled_rules(site_id: int) -> list[InterventionRule]:
    """The site's enabled rules in their order (one query; `hello` reads them once for both kinds)."""
    return list(InterventionRule.objects.raw(_enabled_rules_sql(), [site_id, True]))


def _fired_counts(visitor: Visitor, triggers) -> dict[str, int]:
    """How often each of these rules has fired for this visitor (either arm), in one query."""
    rows = (InterventionEvent.objects.filter(assignment__visitor=visitor, trigger__in=list(triggers),
                                             action=InterventionEvent.TRIGGERED)
            .values("trigger").annotate(n=Count("id")).values_list("trigger", "n"))
    return dict(rows)


def _history(visitor: Visitor, trigger: str) -> tuple[int, datetime | None]:
    """How often a rule has fired for this visitor (either arm) and when it last did."""
    fired = InterventionEvent.objects.filter(assignment__visitor=visitor, trigger=trigger,
                                             action=InterventionEvent.TRIGGERED)
    return fired.count(), fired.order_by("-created_at").values_list("created_at", flat=True).first()


def widget_rules(visitor: Visitor, now: datetime | None = None, rules: list[InterventionRule] | None = None,
                 cart=UNREAD) -> list[dict]:
    """The rules the widget runs, for `welcome.interventions`: `[{trigger, text, when}]`.

    Rules already at their cap for this visitor, and rules that need an
    earlier abandoned cart the visitor does not have, are left out. Holdout
    visitors get them too: the widget must still report `triggered` so both
    arms are counted alike (the server then withholds the prompt).
    """
    now = now or timezone.now()
    out = []
    state = None
    candidates = [r for r in (enabled_rules(visitor.site_id) if rules is None else rules)
                  if logic.runs_in_widget(r.conditions or {})]
    fired = _fired_counts(visitor, {r.trigger for r in candidates}) if candidates else {}
    for rule in candidates:
        conditions = rule.conditions or {}
        if conditions.get("returning_with_abandoned_cart"):
            state = state or shopper_state(visitor, now, cart)
            if not state.has_abandoned_cart:
                continue
        if fired.get(rule.trigger, 0) >= rule.max_per_visitor:
            continue
        out.append({"trigger": rule.trigger, "text": rule.text, "when": logic.widget_when(conditions)})
    return out


def assign_arm(visitor: Visitor, trigger: str, now: datetime, rng: random.Random | None = None) -> InterventionAssignment:
    """The visitor's arm: drawn once at random (holdout share per site) the first time, then never changed.

    The caller holds the visitor's row lock, so two triggers at once draw once.
    """
    existing = InterventionAssignment.objects.filter(visitor=visitor).first()
    if existing is not None:
        return existing
    arm = logic.draw_arm(rng or _system_rng, float(visitor.site.holdout_share))
    return InterventionAssignment.objects.create(
        visitor=visitor, site_id=visitor.site_id, arm=arm, first_trigger=trigger, assigned_at=now,
    )


def fire(visitor: Visitor, rule: InterventionRule, now: datetime, rng: random.Random | None = None,
         idle_since: datetime | None = None) -> str | None:
    """The shopper met `rule`: assign their arm, record `triggered`, prompt the treatment arm only.

    Returns the arm, or None when the rule may not fire: the frequency cap is
    reached, the shopper is already in a conversation, or nothing changed
    since it last fired (an idle shopper is prompted once per idle spell).
    Both arms pass the same checks, so the holdout stays comparable.
    """
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().select_related("site").get(pk=visitor.pk)
        count, last = _history(visitor, rule.trigger)
        if count >= rule.max_per_visitor:
            return None
        if last is not None and (idle_since is None or last >= idle_since):
            return None
        if Conversation.objects.filter(visitor=visitor, status__in=Conversation.OPEN_STATUSES).exists():
            return None
        assignment = assign_arm(visitor, rule.trigger, now, rng)
        InterventionEvent.objects.create(assignment=assignment, rule=rule, trigger=rule.trigger,
                                         action=InterventionEvent.TRIGGERED, created_at=now)
        if assignment.arm == InterventionAssignment.TREATMENT:
            emit(visitor_group(visitor.public_id), {"type": "prompt", "trigger": rule.trigger, "text": rule.text})
        return assignment.arm


def check_server_rules(visitor: Visitor, now: datetime | None = None, rng: random.Random | None = None, *,
                       rules: list[InterventionRule] | None = None, cart=UNREAD, fresh: bool = False) -> list[str]:
    """Evaluate the rules that need the cart (not page signals) for a present shopper; fire the first that holds.

    Called after cart and page frames, after a store cart update, when a
    shopper says hello, and by the periodic idle check. Returns the triggers
    fired (at most one: one invitation at a time). `hello` has just read the
    visitor (`fresh`, with its site), the rules and the cart, and passes them in.
    """
    now = now or timezone.now()
    if not fresh:
        visitor = Visitor.objects.select_related("site").get(pk=visitor.pk)
    if visitor.connected_sockets <= 0:
        return []  # nobody to show it to; firing would count a shopper who never could see it
    rules = [r for r in (enabled_rules(visitor.site_id) if rules is None else rules)
             if not logic.runs_in_widget(r.conditions or {})]
    if not rules:
        return []
    state = shopper_state(visitor, now, cart)
    for rule in rules:
        if logic.holds(rule.conditions or {}, state) and fire(visitor, rule, now, rng, state.idle_since):
            return [rule.trigger]
    return []


def widget_triggered(visitor: Visitor, trigger: str, now: datetime | None = None,
                     rng: random.Random | None = None) -> str | None:
    """The widget says a rule it runs was met; the server re-checks what it knows and fires it (or not)."""
    now = now or timezone.now()
    rule = InterventionRule.objects.filter(site_id=visitor.site_id, trigger=trigger, enabled=True).first()
    if rule is None:
        raise ActionError("unknown_trigger", f"no enabled rule '{trigger[:64]}' on this site", "trigger")
    conditions = rule.conditions or {}
    if not logic.runs_in_widget(conditions):
        raise ActionError("not_a_widget_rule", f"rule '{rule.trigger}' is evaluated by the server", "trigger")
    state = shopper_state(visitor, now)
    if not logic.holds(conditions, state, from_widget=True):
        return None
    # A widget rule fires again (up to its cap) only on a new page signal, which is this frame.
    return fire(visitor, rule, now, rng, idle_since=now)


# How soon after accepting a prompt a new conversation still counts as proactive.
PROACTIVE_WINDOW = timedelta(minutes=30)
AGENT_INVITE = "agent_invite"


def mark_invited(visitor: Visitor, now: datetime | None = None) -> None:
    """An agent sent this shopper an invitation (`prompt` with trigger `agent_invite`)."""
    Visitor.objects.filter(pk=visitor.pk).update(invited_at=now or timezone.now())


def record_intervention(visitor: Visitor, trigger: str, action: str, now: datetime | None = None) -> InterventionEvent | None:
    """An `intervention` frame: `triggered` (a widget rule was met) or a prompt's fate.

    `shown`, `accepted` and `dismissed` are recorded once per prompt sent;
    repeats are ignored, and a shopper who was never prompted is refused.
    Accepting marks the shopper's next conversation proactive. An agent's
    invitation is not a rule (no holdout, no lift): only its acceptance
    is remembered, and only if an invitation was really sent.
    """
    if action == InterventionEvent.TRIGGERED:
        widget_triggered(visitor, trigger, now)
        return None
    now = now or timezone.now()
    if trigger == AGENT_INVITE:
        invited_at = Visitor.objects.filter(pk=visitor.pk).values_list("invited_at", flat=True).first()
        if invited_at is None or now - invited_at > PROACTIVE_WINDOW:
            raise ActionError("not_prompted", "no agent invited this shopper", "trigger")
        if action == InterventionEvent.ACCEPTED:
            Visitor.objects.filter(pk=visitor.pk).update(prompt_accepted_at=now)
        return None
    with transaction.atomic():
        assignment = InterventionAssignment.objects.select_for_update().filter(visitor=visitor).first()
        if assignment is None or assignment.arm != InterventionAssignment.TREATMENT:
            raise ActionError("not_prompted", "no prompt was sent to this shopper", "trigger")
        events = InterventionEvent.objects.filter(assignment=assignment, trigger=trigger)
        prompts = events.filter(action=InterventionEvent.TRIGGERED).count()
        if prompts == 0:
            raise ActionError("not_prompted", f"no prompt '{trigger[:64]}' was sent to this shopper", "trigger")
        if action == InterventionEvent.SHOWN:
            done = events.filter(action=InterventionEvent.SHOWN).count()
        else:
            done = events.filter(action__in=[InterventionEvent.ACCEPTED, InterventionEvent.DISMISSED]).count()
        if done >= prompts:
            return None
        rule = InterventionRule.objects.filter(site_id=visitor.site_id, trigger=trigger).first()
        if action == InterventionEvent.ACCEPTED:
            Visitor.objects.filter(pk=visitor.pk).update(prompt_accepted_at=now)
        return InterventionEvent.objects.create(assignment=assignment, rule=rule, trigger=trigger, action=action,
                                                created_at=now)


def sweep_idle(now: datetime, horizon: timedelta = timedelta(seconds=60)) -> tuple[list[str], list[tuple[int, datetime]]]:
    """The periodic idle check: fire idle rules that are due; return those due within `horizon` to check then.

    Returns (triggers fired, [(visitor pk, when)]) so the task can schedule a
    precise re-check instead of waiting for the next minute.
    """
    fired: list[str] = []
    later: list[tuple[int, datetime]] = []
    idle_sites = set(InterventionRule.objects.filter(enabled=True, conditions__has_key="idle_seconds")
                     .values_list("site_id", flat=True))
    if not idle_sites:
        return fired, later
    for visitor in Visitor.objects.filter(site_id__in=idle_sites, connected_sockets__gt=0).select_related("site"):
        state = shopper_state(visitor, now)
        due = [logic.idle_due_at(r.conditions or {}, state) for r in enabled_rules(visitor.site_id)
               if "idle_seconds" in (r.conditions or {}) and not logic.runs_in_widget(r.conditions or {})]
        due = [d for d in due if d is not None]
        if any(d <= now for d in due):
            fired += check_server_rules(visitor, now)
        upcoming = [d for d in due if now < d <= now + horizon]
        if upcoming:
            later.append((visitor.pk, min(upcoming)))
    return fired, later
