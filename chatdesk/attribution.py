"""Revenue attribution of orders to conversations, exactly as METRICS.md defines it.

Last touch: an order belongs to the most recent conversation of the same
visitor (the order's own visitor, or the visitor its cart token is linked to)
that has at least one agent message and started before the order, no longer
ago than the site's attribution window. Offer revenue is counted from the
accepted offers of that one conversation. Both are recomputed from scratch on
every call, so an order that arrives again or is updated ends up exactly as if
it had arrived once in its latest form.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Iterable

from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import Conversation, Message, Offer, Order, Site

ZERO = Decimal("0.00")


def candidate_visitor_ids(order: Order) -> set[int]:
    """The visitors an order can be matched to: by `visitor_id`, or by its `cart_token` linked to a visitor."""
    ids = set()
    if order.visitor_id:
        ids.add(order.visitor_id)
    if order.cart_id and order.cart.visitor_id:
        ids.add(order.cart.visitor_id)
    return ids


def find_conversation(order: Order, site: Site | None = None) -> Conversation | None:
    """The conversation `order` is attributed to under the last-touch rule, or None."""
    visitor_ids = candidate_visitor_ids(order)
    if not visitor_ids:
        return None
    site = site or order.site
    window_start = order.created_at - timedelta(hours=site.attribution_window_hours)
    # An agent message is a Message with sender "agent": notes, system lines
    # and the shopper's own words are not a touch.
    agent_spoke = Exists(Message.objects.filter(conversation=OuterRef("pk"), sender=Message.AGENT))
    return (
        Conversation.objects.filter(
            site_id=order.site_id,
            visitor_id__in=visitor_ids,
            created_at__lt=order.created_at,
            created_at__gte=window_start,
        )
        .filter(agent_spoke)
        .order_by("-created_at", "-id")
        .first()
    )


def normalise_code(code) -> str:
    """Discount codes compare case-insensitively (as Shopify and WooCommerce apply them); dicts carry `code`."""
    if isinstance(code, dict):
        code = code.get("code", "")
    return str(code or "").strip().upper()


@dataclass(frozen=True)
class LineValue:
    sku: str
    quantity: int
    unit_price: Decimal


def compute_offer_revenue(
    lines: Iterable, total: Decimal, discount_codes: Iterable, offers: Iterable[Offer]
) -> Decimal:
    """Offer revenue of one order from the accepted offers of its attributed conversation.

    Each order line is counted at most once, however many offers name its SKU;
    and when a `discount` offer's code is on the order the whole order total is
    the offer revenue (it already contains every line, so lines are not added
    on top). The result therefore never counts any money twice.
    """
    accepted = [o for o in offers if o.status == Offer.ACCEPTED]
    if not accepted:
        return ZERO
    codes = {normalise_code(c) for c in discount_codes or []} - {""}
    for offer in accepted:
        if offer.kind == "discount" and offer.discount_code and normalise_code(offer.discount_code) in codes:
            return Decimal(total).quantize(Decimal("0.01"))
    skus = {o.sku for o in accepted if o.sku}
    revenue = sum((Decimal(line.quantity) * Decimal(line.unit_price) for line in lines if line.sku and line.sku in skus), ZERO)
    return revenue.quantize(Decimal("0.01"))


def attribute_order(order: Order) -> Order:
    """Link `order` to the conversation it is attributed to (or to none) and store its offer revenue.

    Called inside the order's transaction after its lines are saved, every time
    the order arrives or changes. One order has one `conversation` field, so it
    is attributed at most once; `attributed_at` keeps the first time it was
    linked to its current conversation.
    """
    site = Site.objects.get(pk=order.site_id)
    conv = find_conversation(order, site)
    if conv is None:
        revenue = ZERO
        attributed_at = None
    else:
        revenue = compute_offer_revenue(
            list(order.lines.all()), order.total, order.discount_codes, list(conv.offers.all())
        )
        same = order.conversation_id == conv.id and order.attributed_at is not None
        attributed_at = order.attributed_at if same else timezone.now()
    order.conversation = conv
    order.attributed_at = attributed_at
    order.offer_revenue = revenue
    Order.objects.filter(pk=order.pk).update(conversation=conv, attributed_at=attributed_at, offer_revenue=revenue)
    return order
