"""Shoppers at checkout right now: widget connected and cart at `contact` or a later step, not yet ordered.

The console lists them (in `state`, and one `visitor` frame per change) so
that an agent can invite one with a `prompt` before they leave.
"""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from chatdesk.actions.carts import UNREAD, current_cart
from chatdesk.events import emit, site_agents_group
from chatdesk.models import CHECKOUT_STEP_ORDER, Cart, Conversation, Visitor
from chatdesk.serialize import iso, money

# `complete` means an order: nothing left to rescue.
AT_CHECKOUT_STEPS = [s for s, i in CHECKOUT_STEP_ORDER.items() if CHECKOUT_STEP_ORDER["contact"] <= i < CHECKOUT_STEP_ORDER["complete"]]
LIST_LIMIT = 200


def is_at_checkout(visitor: Visitor, cart: Cart | None) -> bool:
    return (
        visitor.connected_sockets > 0
        and cart is not None
        and cart.ordered_at is None
        and cart.checkout_step in AT_CHECKOUT_STEPS
    )


def entry(visitor: Visitor, cart: Cart, conversation: dict | None, now: datetime) -> dict:
    """One row of the list: who, what is at stake, where they are, since when nothing happened."""
    active = max(t for t in (cart.last_activity_at, cart.updated_at, visitor.last_seen_at) if t is not None)
    return {
        "visitor_id": str(visitor.public_id),
        "site": visitor.site.key,
        "name": visitor.display_name,
        "cart_total": money(cart.total),
        "currency": cart.currency,
        "items": sum(int(i.get("quantity") or 0) for i in cart.items or []),
        "checkout_step": cart.checkout_step,
        "last_activity_at": iso(active),
        "idle_seconds": max(int((now - active).total_seconds()), 0),
        "current_url": visitor.current_url or None,
        "current_title": visitor.current_title or None,
        "conversation_id": conversation["id"] if conversation else None,
        "conversation_status": conversation["status"] if conversation else None,
    }


def _latest_carts(visitor_ids) -> dict[int, Cart]:
    """Each visitor's most recently updated cart that is not an order."""
    latest: dict[int, Cart] = {}
    for cart in Cart.objects.filter(visitor_id__in=visitor_ids, ordered_at__isnull=True).order_by("visitor_id", "-updated_at", "-id"):
        latest.setdefault(cart.visitor_id, cart)
    return latest


def _open_conversations(visitor_ids) -> dict[int, dict]:
    rows = Conversation.objects.filter(visitor_id__in=visitor_ids, status__in=Conversation.OPEN_STATUSES).values(
        "id", "status", "visitor_id"
    )
    return {r["visitor_id"]: r for r in rows}


def visitors_at_checkout(site_ids, now: datetime | None = None) -> list[dict]:
    """Every shopper of these sites at checkout now, the biggest cart first."""
    now = now or timezone.now()
    visitors = list(
        Visitor.objects.filter(site_id__in=site_ids, connected_sockets__gt=0)
        .select_related("site").order_by("-last_seen_at")[:2000]
    )
    ids = [v.id for v in visitors]
    carts = _latest_carts(ids)
    convs = _open_conversations(ids)
    rows = [entry(v, carts[v.id], convs.get(v.id), now) for v in visitors if is_at_checkout(v, carts.get(v.id))]
    rows.sort(key=lambda r: (-float(r["cart_total"] or 0), r["idle_seconds"]))
    return rows[:LIST_LIMIT]


def visitor_entry(visitor_pk: int, now: datetime | None = None, *, visitor: Visitor | None = None,
                  cart=UNREAD) -> tuple[Visitor | None, Cart | None, dict | None]:
    """The visitor, their current cart and their row (None when they are not, or no longer, at checkout).

    A caller that has just read the visitor (with its site) and their cart
    passes them in and saves the two queries.
    """
    if visitor is None:
        visitor = Visitor.objects.select_related("site").filter(pk=visitor_pk).first()
        if visitor is None:
            return None, None, None
    if cart is UNREAD:
        cart = current_cart(visitor)  # the same cart _latest_carts picks, in the one-visitor query
    if not is_at_checkout(visitor, cart):
        return visitor, cart, None
    return visitor, cart, entry(visitor, cart, _open_conversations([visitor.pk]).get(visitor.pk), now or timezone.now())


def announce(visitor_pk: int, *, visitor: Visitor | None = None, cart=UNREAD) -> None:
    """Tell the site's consoles this visitor's row (or `visitor: null` to drop it), after commit."""
    visitor, cart, row = visitor_entry(visitor_pk, visitor=visitor, cart=cart)
    if visitor is None:
        return
    if row is None and (cart is None or CHECKOUT_STEP_ORDER.get(cart.max_step_reached, 0) < CHECKOUT_STEP_ORDER["contact"]):
        return  # never reached checkout, so no console lists them: nothing to drop
    emit(site_agents_group(visitor.site_id), {
        "type": "visitor", "visitor_id": str(visitor.public_id), "site": visitor.site.key, "visitor": row,
    })
