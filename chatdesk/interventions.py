"""Intervention rules as plain logic: validate conditions, decide where a rule runs, test it at a given time.

No database and no clock here: callers pass a `ShopperState` with `now` in
it, so every condition can be tested with time controlled.

Conditions (all optional; all that are given must hold):

| key | value | holds when |
| --- | --- | --- |
| `checkout_step` | list of steps | the shopper's current step is one of them |
| `idle_seconds` | seconds | server rule: nothing changed in the cart or step for that long; widget rule: no input on the page for that long |
| `min_cart_value` | decimal string | the cart total is at least this |
| `shipping_newly_shown` | seconds | a shipping cost first appeared in the cart no longer ago than this |
| `exit_intent` | true | the widget saw the pointer leave towards the browser's top bar (desktop) or a back navigation (phone) |
| `returning_with_abandoned_cart` | true | the visitor has an earlier cart that was abandoned and never ordered |
| `url_pattern` | regular expression | it is found in the page's full URL (JavaScript `RegExp.test` in the widget, `re.search` here) |

A rule with `exit_intent` or `url_pattern` needs page signals: it runs in
the widget (sent in `welcome.interventions`), and the server re-checks what
it knows when the widget reports it `triggered`. Every other rule runs on
the server.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from .models.carts import CHECKOUT_STEPS

CONDITIONS = ("checkout_step", "idle_seconds", "min_cart_value", "shipping_newly_shown", "exit_intent",
              "returning_with_abandoned_cart", "url_pattern")
PAGE_SIGNALS = ("exit_intent", "url_pattern")
# What the widget is told about a rule it runs (agreed with the widget).
WIDGET_WHEN = ("exit_intent", "url_pattern", "idle_seconds", "checkout_step", "min_cart_value")
MAX_SECONDS = 7 * 24 * 3600
HOLDOUT, TREATMENT = "holdout", "treatment"


class ConditionError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _seconds(key: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SECONDS:
        raise ConditionError(key, f"must be a whole number of seconds from 1 to {MAX_SECONDS}")
    return value


def validate_conditions(conditions) -> dict:
    """Check a rule's conditions (as edited in admin) and return them normalised; raise ConditionError."""
    if conditions in (None, ""):
        return {}
    if not isinstance(conditions, dict):
        raise ConditionError("conditions", "must be a JSON object")
    clean: dict = {}
    for key, value in conditions.items():
        if key not in CONDITIONS:
            raise ConditionError(key, f"unknown condition; use {', '.join(CONDITIONS)}")
        if key == "checkout_step":
            steps = [value] if isinstance(value, str) else value
            if not isinstance(steps, list) or not steps or any(s not in CHECKOUT_STEPS for s in steps):
                raise ConditionError(key, f"must be a list of steps from {', '.join(CHECKOUT_STEPS)}")
            clean[key] = list(dict.fromkeys(steps))
        elif key in ("idle_seconds", "shipping_newly_shown"):
            clean[key] = _seconds(key, value)
        elif key == "min_cart_value":
            try:
                amount = Decimal(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            except InvalidOperation:
                amount = None
            if amount is None or not amount.is_finite() or amount < 0:
                raise ConditionError(key, 'must be a non-negative amount such as "50.00"')
            clean[key] = f"{amount.quantize(Decimal('0.01')):.2f}"
        elif key in ("exit_intent", "returning_with_abandoned_cart"):
            if not isinstance(value, bool):
                raise ConditionError(key, "must be true or false")
            if value:
                clean[key] = True
        elif key == "url_pattern":
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= 500:
                raise ConditionError(key, "must be a regular expression of 1-500 characters such as /checkout")
            try:
                re.compile(value.strip())
            except re.error as err:
                raise ConditionError(key, f"is not a valid regular expression ({err})") from None
            if "(?P" in value or "(?#" in value:
                # Python-only syntax: the widget evaluates the same pattern with JavaScript's RegExp.
                raise ConditionError(key, "must use syntax JavaScript understands too (no (?P<name>) or (?#...))")
            clean[key] = value.strip()
    return clean


def runs_in_widget(conditions: dict) -> bool:
    """A rule that needs page signals (exit intent, page URL) is evaluated in the browser."""
    return any(conditions.get(k) for k in PAGE_SIGNALS)


def widget_when(conditions: dict) -> dict:
    return {k: conditions[k] for k in WIDGET_WHEN if k in conditions}


def url_matches(pattern: str, url: str) -> bool:
    """The pattern is a regular expression searched anywhere in the full URL, as the widget's `RegExp.test` does."""
    if not url:
        return False
    try:
        return re.search(pattern, url) is not None
    except re.error:
        return False


@dataclass(frozen=True)
class ShopperState:
    """What the server knows of one shopper at `now`."""

    now: datetime
    checkout_step: str | None = None
    idle_since: datetime | None = None  # the last change to the cart or the checkout step
    cart_value: Decimal | None = None
    shipping_shown_at: datetime | None = None
    has_abandoned_cart: bool = False
    url: str = ""


def unmet(conditions: dict, state: ShopperState, from_widget: bool = False) -> list[str]:
    """The conditions that do not hold. With `from_widget`, page signals are the widget's word (it saw them)."""
    failing = []
    steps = conditions.get("checkout_step")
    if steps and state.checkout_step not in steps:
        failing.append("checkout_step")
    if "min_cart_value" in conditions and (state.cart_value or Decimal("0")) < Decimal(conditions["min_cart_value"]):
        failing.append("min_cart_value")
    if "shipping_newly_shown" in conditions:
        window = timedelta(seconds=conditions["shipping_newly_shown"])
        if state.shipping_shown_at is None or not state.now - window <= state.shipping_shown_at <= state.now:
            failing.append("shipping_newly_shown")
    if conditions.get("returning_with_abandoned_cart") and not state.has_abandoned_cart:
        failing.append("returning_with_abandoned_cart")
    if not from_widget:
        if "idle_seconds" in conditions and (
            state.idle_since is None or state.now - state.idle_since < timedelta(seconds=conditions["idle_seconds"])
        ):
            failing.append("idle_seconds")
        if conditions.get("url_pattern") and not url_matches(conditions["url_pattern"], state.url):
            failing.append("url_pattern")
        if conditions.get("exit_intent"):
            failing.append("exit_intent")  # only the browser can see it
    return failing


def holds(conditions: dict, state: ShopperState, from_widget: bool = False) -> bool:
    return not unmet(conditions, state, from_widget)


def idle_due_at(conditions: dict, state: ShopperState) -> datetime | None:
    """When a server rule's idle condition will be met if nothing changes; None if it has none or cannot be."""
    if "idle_seconds" not in conditions or state.idle_since is None:
        return None
    others = [c for c in unmet(conditions, state) if c != "idle_seconds"]
    if others:
        return None
    return state.idle_since + timedelta(seconds=conditions["idle_seconds"])


def draw_arm(rng: random.Random, holdout_share: float) -> str:
    """One fair draw: holdout with probability `holdout_share`, else treatment."""
    return HOLDOUT if rng.random() < holdout_share else TREATMENT
