"""Personal data: erase a visitor's on request, and everyone's once a site's retention period has passed.

Erasure redacts rather than deletes. Every message, note and comment keeps
its row (so seq stays gap-free and conversation counts, ratings, reasons and
timings stay true), with its text replaced; contact details are emptied;
orders keep their lines and money. What identifies the shopper goes: their
name, email, phone, the pages they visited, what they and the agents wrote,
and the link from their browser (the visitor gets a new public id, so the
token in their browser no longer finds this history).

Kept on purpose: the opt-out list (ContactOptOut). It holds the address
only to honour "do not contact me" for any later cart; deleting it would
undo the shopper's own request.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import (
    CallTask, Cart, CartSnapshot, Conversation, FollowUp, Message, Note, Order, PageView, Site, Visitor,
)

REDACTED = "[redacted]"
# Keys a stored cart body could carry that name a person (store webhooks send whole checkouts).
PERSONAL_KEYS = {"email", "phone", "name", "first_name", "last_name", "customer", "billing_address",
                 "shipping_address", "address", "addresses", "note", "contact_email", "browser_ip"}


@dataclass
class Erased:
    visitors: int = 0
    messages: int = 0
    notes: int = 0
    conversations: int = 0
    page_views: int = 0
    carts: int = 0
    snapshots: int = 0
    orders: int = 0
    followups: int = 0
    call_tasks: int = 0
    visitor_ids: list = field(default_factory=list)

    def add(self, other: "Erased") -> None:
        for name in self.__dataclass_fields__:
            if name == "visitor_ids":
                self.visitor_ids += other.visitor_ids
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "visitor_ids"}


def _scrub(data):
    """A stored JSON body without the keys that name a person (recursively)."""
    if isinstance(data, dict):
        return {k: (REDACTED if k in PERSONAL_KEYS and v not in (None, "", [], {}) else _scrub(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


def _erase_carts(carts) -> Erased:
    done = Erased()
    cart_ids = list(carts.values_list("pk", flat=True))
    if not cart_ids:
        return done
    done.carts = Cart.objects.filter(pk__in=cart_ids).update(email="", phone="", recovery_url="", consent_email=False,
                                                             consent_sms=False)
    for snapshot in CartSnapshot.objects.filter(cart_id__in=cart_ids).only("pk", "data"):
        clean = _scrub(snapshot.data)
        if clean != snapshot.data:
            CartSnapshot.objects.filter(pk=snapshot.pk).update(data=clean)
            done.snapshots += 1
    done.followups = FollowUp.objects.filter(cart_id__in=cart_ids).exclude(recipient="").update(recipient="")
    done.call_tasks = CallTask.objects.filter(cart_id__in=cart_ids).exclude(note="").update(note=REDACTED)
    return done


def erase_visitor(visitor: Visitor) -> Erased:
    """Redact everything that identifies one visitor; rows, counts and money stay."""
    done = Erased(visitors=1, visitor_ids=[str(visitor.public_id)])
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        convs = Conversation.objects.filter(visitor=visitor)
        # Agents' replies quote addresses and order details too: every message goes.
        done.messages = Message.objects.filter(conversation__in=convs).exclude(text=REDACTED).update(text=REDACTED)
        done.notes = Note.objects.filter(conversation__in=convs).exclude(text=REDACTED).update(text=REDACTED)
        done.conversations = convs.filter(~Q(close_note="") | ~Q(rating_comment="")).update(close_note="", rating_comment="")
        done.page_views = PageView.objects.filter(visitor=visitor).exclude(url="", title="").update(url="", title="")
        done.add(_erase_carts(Cart.objects.filter(visitor=visitor)))
        done.orders = Order.all_objects.filter(visitor=visitor).exclude(email="").update(email="")
        for name in ("name", "email", "phone", "current_url", "current_title"):
            setattr(visitor, name, "")
        visitor.identified = visitor.consent_email = visitor.consent_sms = False
        visitor.redacted_at = timezone.now()
        # A new public id: the token still in the shopper's browser no longer leads here.
        visitor.public_id = uuid.uuid4()
        visitor.save()
    return done


def erase_by_email(site: Site, email: str) -> Erased:
    """Erase every visitor of the site who gave this address, and the carts and orders that carry it."""
    email = email.strip()
    done = Erased()
    if not email:
        return done
    for visitor in Visitor.objects.filter(site=site, email__iexact=email):
        done.add(erase_visitor(visitor))
    with transaction.atomic():
        done.add(_erase_carts(Cart.objects.filter(site=site, email__iexact=email)))
        done.orders += Order.all_objects.filter(site=site, email__iexact=email).update(email="")
    return done


def purge_expired(now=None) -> Erased:
    """Erase what each site keeps longer than its `retention_days`: visitors not seen since, old raw carts and emails."""
    now = now or timezone.now()
    done = Erased()
    for site in Site.objects.all():
        cutoff = now - timedelta(days=site.retention_days)
        # An erased visitor cannot come back (its public id changed), so "not erased yet" is enough.
        stale = Visitor.objects.filter(site=site, redacted_at__isnull=True).filter(
            Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, created_at__lt=cutoff)
        )
        for visitor in stale.iterator():
            done.add(erase_visitor(visitor))
        with transaction.atomic():
            # A regular's old conversations expire too, even though they were here yesterday.
            old_convs = Conversation.objects.filter(site=site).exclude(status__in=Conversation.OPEN_STATUSES).filter(
                Q(last_message_at__lt=cutoff) | Q(last_message_at__isnull=True, created_at__lt=cutoff)
            )
            done.messages += Message.objects.filter(conversation__in=old_convs).exclude(text=REDACTED).update(text=REDACTED)
            done.notes += Note.objects.filter(conversation__in=old_convs).exclude(text=REDACTED).update(text=REDACTED)
            done.conversations += old_convs.filter(~Q(close_note="") | ~Q(rating_comment="")).update(
                close_note="", rating_comment="")
            done.page_views += PageView.objects.filter(visitor__site=site, created_at__lt=cutoff).exclude(
                url="", title="").update(url="", title="")
            old_carts = Cart.objects.filter(site=site, updated_at__lt=cutoff).filter(~Q(email="") | ~Q(phone=""))
            done.add(_erase_carts(old_carts))
            # Raw bodies older than the retention period: the journey survives as cart events.
            done.snapshots += CartSnapshot.objects.filter(cart__site=site, received_at__lt=cutoff).delete()[0]
            done.orders += Order.all_objects.filter(site=site, created_at__lt=cutoff).exclude(email="").update(email="")
    return done

