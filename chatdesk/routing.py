"""Queue priority: what is at stake (cart value, checkout step, returning customer) plus ageing.

A waiting conversation's priority grows linearly with time waited:
    priority(t) = base + weight_wait * (t - queued_at)
Ordering by that at any instant equals ordering by the time-free key
    priority_key = base - weight_wait * queued_at_epoch
which is what is stored and indexed, so the order never goes stale.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .models import CHECKOUT_STEP_ORDER, Conversation, Site


def base_priority(site: Site, cart_total: Decimal | None, checkout_step: str | None, returning: bool) -> float:
    score = float(cart_total or 0) * site.weight_cart_value
    score += CHECKOUT_STEP_ORDER.get(checkout_step or "", 0) * site.weight_checkout_step
    if returning:
        score += site.weight_returning
    return score


def priority_key(site: Site, base: float, queued_at: datetime) -> float:
    return base - site.weight_wait * queued_at.timestamp()


def current_priority(c: Conversation, now: datetime) -> float:
    return c.priority_key + c.site.weight_wait * now.timestamp()


def is_returning(conversation: Conversation) -> bool:
    """A returning customer has an earlier conversation or an order on this site."""
    visitor = conversation.visitor
    if visitor.orders.exists():
        return True
    return visitor.conversations.filter(created_at__lt=conversation.created_at).exists()


def refresh_priority(conversation: Conversation) -> None:
    """Recompute the stored key from the conversation's cart, step and customer."""
    cart = conversation.cart
    base = base_priority(
        conversation.site,
        cart.total if cart else None,
        (cart.checkout_step if cart else None) or conversation.visitor.checkout_step,
        is_returning(conversation),
    )
    conversation.priority_key = priority_key(conversation.site, base, conversation.queued_at)
