"""Queue priority and queue choice: what is at stake (cart value, checkout step, returning customer) plus ageing.

The priority of a waiting conversation at instant t (seconds since the epoch) is

    priority(t) = weight_cart_value    * cart_total            (site currency units)
                + weight_checkout_step * step_index            (cart 0, contact 1, shipping 2,
                                                                payment 3, review 4, complete 5)
                + weight_returning     * (1 if returning else 0)
                + boost                                        (0, unless it came back to the queue)
                + weight_wait          * (t - queued_at)       (ageing: seconds waited)

Every waiting conversation gains `weight_wait` points a second, so the order
between two of them never changes with time except through the ageing term,
which is the same slope for all of them. Ordering by priority(t) at any
instant therefore equals ordering by the time-free key

    priority_key = priority(t) - weight_wait * t
                 = base + boost - weight_wait * queued_at

which is what is stored and indexed: the order never goes stale and needs no
periodic re-ranking. Equal keys are ordered by `queued_at`, then by id.

A conversation that goes back to the queue (its agent went offline, or an
agent handed it to a queue) gets the boost that puts it one point above the
highest key waiting at that moment: it goes to the head, then ages like the
others.

The queue (team) a conversation waits in is chosen by the site's teams'
rules: the first team, in the teams' `order` then name, whose `min_cart_value`
is set and at most the cart total. No rule matching: the general queue
(`team` null), which every agent of the site serves.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Max

from .models import CHECKOUT_STEP_ORDER, Conversation, Site


def base_priority(site: Site, cart_total: Decimal | None, checkout_step: str | None, returning: bool) -> float:
    """The points a conversation is worth before ageing: cart value, checkout step, returning customer."""
    score = float(cart_total or 0) * site.weight_cart_value
    score += CHECKOUT_STEP_ORDER.get(checkout_step or "", 0) * site.weight_checkout_step
    if returning:
        score += site.weight_returning
    return score


def priority_key(site: Site, base: float, queued_at: datetime) -> float:
    """The time-free ordering key (higher goes first)."""
    return base - site.weight_wait * queued_at.timestamp()


def current_priority(c: Conversation, now: datetime) -> float:
    """priority(now): the points shown to agents."""
    return c.priority_key + c.site.weight_wait * now.timestamp()


def is_returning(conversation: Conversation) -> bool:
    """A returning customer has an earlier conversation or an order on this site."""
    visitor = conversation.visitor
    if visitor.orders.exists():
        return True
    return visitor.conversations.filter(created_at__lt=conversation.created_at).exists()


def conversation_base(conversation: Conversation) -> float:
    cart = conversation.cart
    return base_priority(
        conversation.site,
        cart.total if cart else None,
        (cart.checkout_step if cart else None) or conversation.visitor.checkout_step,
        is_returning(conversation),
    )


def team_for_cart(site: Site, cart_total: Decimal | None):
    """The queue the site's rules send a cart of this value to; None is the general queue."""
    from agents.models import Team

    if cart_total is None:
        return None
    return (
        Team.objects.filter(site=site, min_cart_value__isnull=False, min_cart_value__lte=cart_total)
        .order_by("order", "name").first()
    )


def refresh_priority(conversation: Conversation) -> None:
    """Recompute the stored key (keeping any boost) and, unless an agent chose its queue, the queue rule.

    Callers save `priority_key` and `team`.
    """
    if not conversation.team_pinned:
        cart = conversation.cart
        team = team_for_cart(conversation.site, cart.total if cart else None)
        conversation.team = team
    conversation.priority_key = (
        priority_key(conversation.site, conversation_base(conversation), conversation.queued_at)
        + conversation.priority_boost
    )


def send_to_head(conversation: Conversation) -> None:
    """Give a conversation about to wait again (`queued_at` set) the boost that puts it at the head.

    It goes one point above the highest key waiting on its site at this
    moment. To put several at the head in a given order, send the last one
    first. Callers save `priority_key`, `priority_boost` and `team`.
    """
    conversation.priority_boost = 0.0
    refresh_priority(conversation)
    natural = conversation.priority_key
    top = (
        Conversation.objects.filter(site_id=conversation.site_id, status=Conversation.QUEUED)
        .exclude(pk=conversation.pk).aggregate(top=Max("priority_key"))["top"]
    )
    if top is not None and top + 1.0 > natural:
        conversation.priority_boost = top + 1.0 - natural
        conversation.priority_key = top + 1.0
