"""Abandoned carts (METRICS.md): detect them at a given time, and list them for the agents who serve the site.

A cart is abandoned when it reached checkout step `contact` or later, has
no order, and nothing happened for the site's `abandon_after_minutes`:
no cart change and no sign of the shopper (page, socket). Its
`abandoned_at` is the moment that silence reached the threshold, not when
the periodic task noticed, so the figure does not depend on task timing.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from ..events import emit, site_agents_group
from ..models import CHECKOUT_STEPS, Cart, CartEvent, Conversation, Order, Site
from ..serialize import iso, money

FROM_CONTACT = CHECKOUT_STEPS[CHECKOUT_STEPS.index("contact"):]


def _last_activity(cart: Cart) -> datetime | None:
    moments = [cart.last_activity_at]
    if cart.visitor_id and cart.visitor.last_seen_at:
        moments.append(cart.visitor.last_seen_at)
    moments = [m for m in moments if m]
    return max(moments) if moments else None


def detect_abandoned(now: datetime, site_ids=None) -> list[Cart]:
    """Mark every cart that became abandoned by `now` (CartEvent `abandoned`) and tell the site's agents."""
    marked = []
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    for site in sites:
        threshold = timedelta(minutes=site.abandon_after_minutes)
        candidates = Cart.objects.filter(
            site=site, ordered_at__isnull=True, abandoned_at__isnull=True,
            max_step_reached__in=FROM_CONTACT, last_activity_at__lte=now - threshold,
        ).values_list("pk", flat=True)
        for pk in candidates:
            cart = _mark(pk, now, threshold)
            if cart is not None:
                marked.append(cart)
    return marked


def _mark(pk: int, now: datetime, threshold: timedelta) -> Cart | None:
    with transaction.atomic():
        cart = (Cart.objects.select_for_update(of=("self",)).select_related("visitor", "site")
                .filter(pk=pk, ordered_at__isnull=True, abandoned_at__isnull=True).first())
        if cart is None:
            return None
        last = _last_activity(cart)
        if last is None or last > now - threshold:
            return None
        if cart.visitor_id and Order.objects.filter(visitor_id=cart.visitor_id, created_at__gte=cart.created_at).exists():
            return None  # the shopper bought, in another cart: this one was left behind, not abandoned
        cart.abandoned_at = last + threshold
        cart.save(update_fields=["abandoned_at"])
        CartEvent.objects.create(
            cart=cart, kind=CartEvent.ABANDONED, source="system", created_at=cart.abandoned_at,
            data={"total": money(cart.total), "currency": cart.currency, "checkout_step": cart.max_step_reached},
        )
        emit(site_agents_group(cart.site_id), {"type": "abandoned_cart", "cart": abandoned_cart_dict(cart)})
    return cart


def abandoned_cart_dict(cart: Cart, conversation_id: int | None = None) -> dict:
    """What an agent needs to follow a cart up: value, how far it got, who, and what they agreed to."""
    visitor = cart.visitor if cart.visitor_id else None
    return {
        "id": cart.id,
        "site": cart.site.key,
        "cart_token": cart.cart_token,
        "total": money(cart.total),
        "currency": cart.currency,
        "items": cart.items,
        "checkout_step": cart.max_step_reached,
        "abandoned_at": iso(cart.abandoned_at),
        "last_activity_at": iso(cart.last_activity_at),
        "visitor_id": str(visitor.public_id) if visitor else None,
        "contact": {
            "name": visitor.name if visitor else "",
            "email": cart.email or (visitor.email if visitor else ""),
            "phone": cart.phone or (visitor.phone if visitor else ""),
        },
        # Consent given anywhere counts (the store's checkout box or the widget);
        # unsubscribes are honoured by the follow-ups through ContactOptOut.
        "consent": {
            "email": bool(cart.consent_email or (visitor and visitor.consent_email)),
            "sms": bool(cart.consent_sms or (visitor and visitor.consent_sms)),
        },
        "recovery_url": cart.recovery_url or None,
        "conversation_id": conversation_id,
    }


def agent_site_ids(user) -> list[int]:
    profile = getattr(user, "agent_profile", None)
    return list(profile.sites.values_list("pk", flat=True)) if profile is not None else []


def abandoned_carts(user, site_key: str | None = None, limit: int = 100) -> list[dict]:
    """The abandoned, still unordered carts of the sites this agent serves, newest first."""
    site_ids = agent_site_ids(user)
    carts = (Cart.objects.filter(site_id__in=site_ids, abandoned_at__isnull=False, ordered_at__isnull=True)
             .select_related("visitor", "site").order_by("-abandoned_at", "-id"))
    if site_key:
        carts = carts.filter(site__key=site_key)
    carts = list(carts[:max(1, min(limit, 500))])
    visitor_ids = [c.visitor_id for c in carts if c.visitor_id]
    latest = {}
    for conv_id, visitor_id in (Conversation.objects.filter(visitor_id__in=visitor_ids)
                                .order_by("created_at", "id").values_list("id", "visitor_id")):
        latest[visitor_id] = conv_id
    return [abandoned_cart_dict(c, latest.get(c.visitor_id)) for c in carts]
