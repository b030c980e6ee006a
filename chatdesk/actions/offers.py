"""Offers an agent makes in a conversation, the shopper's answer, and expiry.

Lifecycle: `proposed` -> `accepted` / `declined` (the shopper answers once)
or `expired` (the site's `offer_lifetime_minutes` passed first). Every change
is sent as an `offer` frame to the shopper and to the agent.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..errors import ActionError
from ..events import agent_group, emit, site_agents_group, visitor_group
from ..models import OFFER_KINDS, Conversation, Offer, Product, Visitor
from ..serialize import offer_dict
from .carts import parse_money
from .conversations import _locked_for_agent


def validate_offer(data: dict) -> dict:
    kind = data.get("kind")
    if kind not in OFFER_KINDS:
        raise ActionError("invalid_field", f"'offer.kind' must be one of {', '.join(OFFER_KINDS)}", "offer.kind")
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= 200:
        raise ActionError("invalid_field", "'offer.title' must be a string of 1-200 characters", "offer.title")
    sku = data.get("sku") or ""
    if not isinstance(sku, str) or len(sku) > 100:
        raise ActionError("invalid_field", "'offer.sku' must be a string of at most 100 characters", "offer.sku")
    price = data.get("price")
    price = parse_money(price, "offer.price") if price not in (None, "") else None
    code = data.get("discount_code") or ""
    if not isinstance(code, str) or len(code) > 64:
        raise ActionError("invalid_field", "'offer.discount_code' must be a string of at most 64 characters",
                          "offer.discount_code")
    if kind == "discount" and not code:
        raise ActionError("invalid_field", "a discount offer needs 'offer.discount_code'", "offer.discount_code")
    if kind in ("upsell", "cross_sell", "bundle") and not sku:
        raise ActionError("invalid_field", f"an offer of kind {kind} needs the product's 'offer.sku'", "offer.sku")
    return {"kind": kind, "title": title.strip(), "sku": sku, "price": price, "discount_code": code}


def _emit_offer(conv: Conversation, offer: Offer) -> None:
    frame = {"type": "offer", "offer": offer_dict(offer)}
    emit(visitor_group(conv.visitor.public_id), frame)
    if conv.agent_id:
        emit(agent_group(conv.agent_id), frame)
    emit(site_agents_group(conv.site_id), {**frame, "type": "offer_update"})


def make_offer(user, conversation_id: int, client_id: str, data: dict) -> tuple[Offer, bool]:
    """Record an offer (status `proposed`) and show it to the shopper; a repeated client_id returns the first."""
    clean = validate_offer(data)
    with transaction.atomic():
        conv = _locked_for_agent(user, conversation_id)
        existing = Offer.objects.filter(conversation=conv, client_id=client_id).first()
        if existing is not None:
            return existing, False
        if conv.agent_id != user.id or conv.status != Conversation.ACTIVE:
            raise ActionError("not_assigned", "you can only make offers in a conversation assigned to you")
        conv = Conversation.objects.select_related("visitor", "site").get(pk=conv.pk)
        if clean["sku"] and clean["price"] is None:
            # The store adds the product at this price; default to the catalogue's.
            product = Product.objects.filter(site_id=conv.site_id, sku=clean["sku"]).first()
            if product is not None:
                clean["price"] = product.price
        offer = Offer.objects.create(
            conversation=conv, agent=user, client_id=client_id,
            expires_at=timezone.now() + timedelta(minutes=conv.site.offer_lifetime_minutes), **clean,
        )
        _emit_offer(conv, offer)
    return offer, True


def respond_offer(visitor: Visitor, offer_id: int, accepted: bool) -> Offer:
    """The shopper's answer; an offer is answered once, and not after it expired."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",))
            .filter(pk=offer_id, conversation__visitor=visitor)
            .select_related("conversation__visitor", "conversation__site", "agent__agent_profile")
            .first()
        )
        if offer is None:
            raise ActionError("not_found", f"offer {offer_id} does not exist", "offer_id")
        now = timezone.now()
        if offer.status == Offer.PROPOSED and offer.expires_at and offer.expires_at <= now:
            # Expire it for good (committed, both sides told), then refuse the answer below.
            offer.status = Offer.EXPIRED
            offer.save(update_fields=["status"])
            _emit_offer(offer.conversation, offer)
        elif offer.status == Offer.PROPOSED:
            offer.status = Offer.ACCEPTED if accepted else Offer.DECLINED
            offer.responded_at = now
            offer.save(update_fields=["status", "responded_at"])
            _emit_offer(offer.conversation, offer)
            return offer
    raise ActionError("offer_closed", f"this offer is already {offer.status}", "offer_id")


def expire_offers(now=None) -> int:
    """Expire every proposed offer whose lifetime has passed, telling both sides; returns how many expired."""
    now = now or timezone.now()
    due = list(
        Offer.objects.filter(status=Offer.PROPOSED, expires_at__lte=now).values_list("pk", flat=True)[:1000]
    )
    expired = 0
    for pk in due:
        with transaction.atomic():
            # A conditional update: the shopper's answer racing this task wins or loses as a whole.
            if not Offer.objects.filter(pk=pk, status=Offer.PROPOSED).update(status=Offer.EXPIRED):
                continue
            offer = Offer.objects.select_related(
                "conversation__visitor", "conversation__site", "agent__agent_profile"
            ).get(pk=pk)
            _emit_offer(offer.conversation, offer)
            expired += 1
    return expired
