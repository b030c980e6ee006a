"""Turn domain rows into the dicts that frames and the API carry (money as strings)."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.utils import timezone

from .models import Cart, Conversation, Message, Note, Offer


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def message_dict(m: Message) -> dict:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "sender": m.sender,
        "author": m.author_name or None,
        "text": m.text,
        "created_at": iso(m.created_at),
        "client_id": m.client_id or None,
    }


def note_dict(n: Note) -> dict:
    return {
        "id": n.id,
        "conversation_id": n.conversation_id,
        "author": n.author_name,
        "text": n.text,
        "created_at": iso(n.created_at),
        "client_id": n.client_id or None,
    }


def offer_dict(o: Offer) -> dict:
    return {
        "id": o.id,
        "conversation_id": o.conversation_id,
        "kind": o.kind,
        "title": o.title,
        "sku": o.sku or None,
        "price": money(o.price),
        "discount_code": o.discount_code or None,
        "status": o.status,
        "created_at": iso(o.created_at),
        "expires_at": iso(o.expires_at),
        "agent": o.agent.agent_profile.display_name if o.agent_id and hasattr(o.agent, "agent_profile") else None,
        # What a store page needs on `offer:accepted` to add the product or apply the code.
        "currency": o.conversation.site.currency,
        "product": _offer_product(o),
    }


def _offer_product(o: Offer) -> dict | None:
    """The catalogue entry of the offer's SKU (name, link, image, list price), if the site has one."""
    if not o.sku:
        return None
    from .models import Product

    p = Product.objects.filter(site_id=o.conversation.site_id, sku=o.sku).first()
    if p is None:
        return None
    return {"sku": p.sku, "name": p.name, "price": money(p.price), "url": p.url or None, "image_url": p.image_url or None}


def cart_dict(cart: Cart | None) -> dict | None:
    if cart is None:
        return None
    return {
        "cart_token": cart.cart_token,
        "currency": cart.currency,
        "items": cart.items,
        "subtotal": money(cart.subtotal),
        "shipping": money(cart.shipping),
        "tax": money(cart.tax),
        "discount": money(cart.discount),
        "total": money(cart.total),
        "checkout_step": cart.checkout_step,
        "source": cart.source,
        "updated_at": iso(cart.updated_at),
    }


def agent_ref(user) -> dict | None:
    if user is None:
        return None
    profile = getattr(user, "agent_profile", None)
    return {"id": user.id, "name": profile.display_name if profile else user.get_username()}


def conversation_summary(c: Conversation, now: datetime | None = None, returning: bool | None = None) -> dict:
    """The summary every console frame carries; callers select_related visitor, agent profile, cart, site."""
    from .routing import current_priority

    now = now or timezone.now()
    cart = c.cart
    waiting = c.status == Conversation.QUEUED
    return {
        "id": c.id,
        "status": c.status,
        "site": c.site.key,
        "visitor_id": str(c.visitor.public_id),
        "visitor_name": c.visitor.display_name,
        "returning": bool(returning),
        "proactive": c.proactive,
        "agent": agent_ref(c.agent),
        "team": c.team.name if c.team_id else None,
        "team_id": c.team_id,
        "cart_total": money(cart.total) if cart else None,
        "currency": cart.currency if cart else c.site.currency,
        "checkout_step": (cart.checkout_step if cart else None) or c.visitor.checkout_step or None,
        "waiting_since": iso(c.queued_at) if waiting else None,
        "created_at": iso(c.created_at),
        "assigned_at": iso(c.assigned_at),
        "last_message_at": iso(c.last_message_at),
        "last_seq": c.last_seq,
        "priority": round(current_priority(c, now), 2) if waiting else None,
        # Live while waiting; afterwards whether it ever waited past the target (what reports count).
        "over_target": bool(c.over_target or (waiting and (now - c.queued_at).total_seconds() > c.site.target_wait_seconds)),
        "target_wait_seconds": c.site.target_wait_seconds,
        "missed_at": iso(c.missed_at),
        "close_reason": c.close_reason or None,
    }
