"""Follow-ups of abandoned carts: schedule, consent, at-most-once delivery, opt-outs, recovery links.

A periodic scan creates one FollowUp row per (cart, step) once the step is due;
the unique constraint makes a second scan (or a second worker) a no-op. Each
row is then delivered by `deliver_followup`, which re-checks every rule, and
records the send (status `sending`, committed) BEFORE the message goes; a
retried or re-enqueued delivery finds the row no longer `pending` and does
nothing. Nothing is ever sent without consent, twice, after the order, or
after an opt-out.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..events import emit, site_agents_group
from ..models import CallTask, Cart, ContactOptOut, FollowUp, FollowUpStep, Order, Site
from ..sms import SmsError, get_backend, normalise_phone, phone_tail

log = logging.getLogger(__name__)

# A step more than this late (worker down for days, step added later) is not
# started at all: an email about a week-old cart does more harm than good.
MAX_LATE = timedelta(hours=24)
RECOVERY_SALT = "chatdesk.recovery"
UNSUBSCRIBE_SALT = "chatdesk.unsubscribe"

EMAIL, SMS, CALL = FollowUpStep.EMAIL, FollowUpStep.SMS, FollowUpStep.CALL


# --- contact details and consent ------------------------------------------------

@dataclass(frozen=True)
class Contact:
    address: str   # email, or phone as given (normalised)
    consent: bool


def email_contact(cart: Cart) -> Contact:
    """The cart's email and whether the shopper agreed to email at that address (cart first, then visitor)."""
    visitor = cart.visitor
    if cart.email:
        same_as_visitor = visitor is not None and visitor.email.lower() == cart.email.lower()
        return Contact(cart.email.strip(), cart.consent_email or (same_as_visitor and visitor.consent_email))
    if visitor is not None and visitor.email:
        return Contact(visitor.email.strip(), visitor.consent_email)
    return Contact("", False)


def phone_contact(cart: Cart) -> Contact:
    """The cart's phone and whether the shopper agreed to be texted or called on it (cart first, then visitor)."""
    visitor = cart.visitor
    phone = normalise_phone(cart.phone)
    if phone:
        same_as_visitor = visitor is not None and phone_tail(visitor.phone) == phone_tail(phone)
        return Contact(phone, cart.consent_sms or (same_as_visitor and visitor.consent_sms))
    if visitor is not None and normalise_phone(visitor.phone):
        return Contact(normalise_phone(visitor.phone), visitor.consent_sms)
    return Contact("", False)


def normalise_address(channel: str, address: str) -> str:
    return address.strip().lower() if channel == EMAIL else normalise_phone(address)


def is_opted_out(site_id: int, channel: str, address: str) -> bool:
    """An opt-out is for the address on this site. A phone opt-out (SMS stop word) also stops calls."""
    if channel == EMAIL:
        return ContactOptOut.objects.filter(site_id=site_id, channel=EMAIL, address=normalise_address(EMAIL, address)).exists()
    tail = phone_tail(address)
    if not tail:
        return False
    # Matched on the last nine digits so that "+1 415..." and "(415)..." are the same phone: erring towards silence.
    return ContactOptOut.objects.filter(site_id=site_id, channel__in=(SMS, CALL), address__endswith=tail).exists()


def opt_out(site: Site | int, channel: str, address: str, source: str) -> ContactOptOut | None:
    """Record that this address wants no more follow-ups on this channel from this site (idempotent)."""
    site_id = site if isinstance(site, int) else site.id
    if channel not in (EMAIL, SMS, CALL):
        raise ValueError(channel)
    address = normalise_address(channel, address)
    if not address:
        return None
    try:
        with transaction.atomic():
            opt, _ = ContactOptOut.objects.get_or_create(
                site_id=site_id, channel=channel, address=address, defaults={"source": source}
            )
    except IntegrityError:  # a racing twin recorded it first
        opt = ContactOptOut.objects.get(site_id=site_id, channel=channel, address=address)
    return opt


# --- scheduling ------------------------------------------------------------------

def _has_contact_for(channel: str) -> Q:
    if channel == EMAIL:
        return ~Q(email="") | Q(visitor__email__gt="")
    return ~Q(phone="") | Q(visitor__phone__gt="")


def scan_followups(now=None) -> list[int]:
    """Create the FollowUp rows that are due (abandoned_at + delay <= now); returns the new rows' ids.

    Only carts that are abandoned, not ordered, at or over the step's minimum
    value and with an address for the channel get a row; every other rule is
    checked at delivery, where a failing one is recorded as `skipped`.
    """
    now = now or timezone.now()
    created = []
    for step in FollowUpStep.objects.filter(enabled=True).order_by("site_id", "delay_minutes", "id"):
        due_before = now - timedelta(minutes=step.delay_minutes)
        carts = (
            Cart.objects.filter(
                site_id=step.site_id, abandoned_at__isnull=False, abandoned_at__lte=due_before,
                abandoned_at__gte=due_before - MAX_LATE, ordered_at__isnull=True, total__gte=step.min_cart_value,
            )
            .filter(_has_contact_for(step.channel))
            .exclude(followups__step=step)
            .values_list("pk", "abandoned_at")[:500]
        )
        for cart_id, abandoned_at in carts:
            try:
                with transaction.atomic():
                    fu = FollowUp.objects.create(
                        cart_id=cart_id, step=step, channel=step.channel,
                        due_at=abandoned_at + timedelta(minutes=step.delay_minutes),
                    )
            except IntegrityError:  # another scanner got there first: theirs is the one
                continue
            created.append(fu.pk)
    return created


def due_pending_ids(now=None, limit: int = 500) -> list[int]:
    """Rows still waiting for delivery (new ones, and any whose delivery task was lost)."""
    now = now or timezone.now()
    return list(
        FollowUp.objects.filter(status=FollowUp.PENDING, due_at__lte=now).order_by("due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


# --- delivery --------------------------------------------------------------------

def _ordered(cart: Cart) -> bool:
    """The cart became an order, or its visitor ordered since it was abandoned (another cart, same shopper)."""
    if cart.ordered_at is not None or Order.objects.filter(cart=cart).exists():
        return True
    if cart.visitor_id and cart.abandoned_at:
        return Order.objects.filter(
            Q(visitor_id=cart.visitor_id) | Q(cart__visitor_id=cart.visitor_id), site_id=cart.site_id,
            created_at__gte=cart.abandoned_at,
        ).exists()
    return False


def skip_reason(fu: FollowUp) -> tuple[str, str]:
    """Why this follow-up must not go now ("" if it may) and the address it would go to."""
    cart, step = fu.cart, fu.step
    if _ordered(cart):
        return "ordered", ""
    if cart.abandoned_at is None:
        return "not_abandoned", ""
    if not step.enabled:
        return "step_disabled", ""
    if cart.total < step.min_cart_value:
        return "below_min_value", ""
    if not cart.items:
        return "empty_cart", ""
    contact = email_contact(cart) if fu.channel == EMAIL else phone_contact(cart)
    if not contact.address:
        return "no_contact", ""
    if not contact.consent:
        return "no_consent", contact.address
    if is_opted_out(cart.site_id, fu.channel, contact.address):
        return "opted_out", contact.address
    return "", contact.address


def deliver_followup(followup_id: int, now=None) -> FollowUp | None:
    """Send one follow-up at most once: check the rules, record the send, commit, then send.

    A row that is not `pending` (already sent, being sent, skipped, failed) is
    left alone, so a retried task, a re-enqueued task or a second worker does
    nothing. If the provider fails the row becomes `failed` and is not retried.
    """
    now = now or timezone.now()
    with transaction.atomic():
        fu = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related("cart__visitor", "cart__site", "step")
            .filter(pk=followup_id).first()
        )
        if fu is None or fu.status != FollowUp.PENDING or fu.due_at > now:
            return fu
        reason, address = skip_reason(fu)
        if reason:
            fu.status, fu.skip_reason, fu.recipient = FollowUp.SKIPPED, reason, address
            fu.save(update_fields=["status", "skip_reason", "recipient"])
            return fu
        fu.recipient = address
        if fu.channel == CALL:
            # The "send" of a call step is putting it on the agents' call list.
            fu.status = FollowUp.SENT
            fu.save(update_fields=["status", "recipient"])
            task = CallTask.objects.create(followup=fu, cart=fu.cart)
            emit(site_agents_group(fu.cart.site_id), {"type": "call_task", "call_task": {"id": task.id, "status": "open"}})
            return fu
        fu.status, fu.sent_at = FollowUp.SENDING, now
        fu.save(update_fields=["status", "sent_at", "recipient"])
    # Committed: from here on no other delivery of this row can start.
    try:
        provider_id = _send(fu)
    except Exception as exc:  # any failure: recorded, never retried (at most once)
        log.warning("follow-up %s (%s to %s) failed: %s", fu.pk, fu.channel, fu.recipient, exc)
        FollowUp.objects.filter(pk=fu.pk, status=FollowUp.SENDING).update(
            status=FollowUp.FAILED, sent_at=None, error=str(exc)[:300]
        )
        fu.status, fu.sent_at, fu.error = FollowUp.FAILED, None, str(exc)[:300]
        return fu
    FollowUp.objects.filter(pk=fu.pk, status=FollowUp.SENDING).update(status=FollowUp.SENT, provider_id=provider_id[:100])
    fu.status, fu.provider_id = FollowUp.SENT, provider_id[:100]
    return fu


def _send(fu: FollowUp) -> str:
    if fu.channel == EMAIL:
        from ..emails import recovery_email

        message = recovery_email(fu)
        message.send(fail_silently=False)
        status = getattr(message, "anymail_status", None)  # set by django-anymail backends: the ESP's id
        if status is not None and isinstance(status.message_id, str):
            return status.message_id
        return message.extra_headers.get("Message-ID", "")
    if fu.channel == SMS:
        return get_backend().send(fu.recipient, sms_text(fu))
    raise SmsError(f"unknown channel {fu.channel}")


def sms_text(fu: FollowUp) -> str:
    cart = fu.cart
    count = sum(int(i.get("quantity", 1)) for i in cart.items)
    noun = "item" if count == 1 else "items"
    return (f"{cart.site.name}: you left {count} {noun} in your cart ({cart.total:.2f} {cart.currency}). "
            f"Pick up where you left off: {recovery_link(fu)} Reply STOP to opt out.")


# --- recovery links and unsubscribing --------------------------------------------

def recovery_token(fu: FollowUp) -> str:
    return signing.dumps(fu.pk, salt=RECOVERY_SALT, compress=False)


def followup_from_token(token: str) -> FollowUp | None:
    """The follow-up a recovery token names, or None if forged, tampered with or older than the link lifetime."""
    try:
        pk = signing.loads(token, salt=RECOVERY_SALT, max_age=timedelta(days=settings.CHATDESK_RECOVERY_LINK_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return FollowUp.objects.select_related("cart__site").filter(pk=pk).first()


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def recovery_link(fu: FollowUp) -> str:
    return absolute(f"/r/{recovery_token(fu)}/")


def unsubscribe_token(site_id: int, channel: str, address: str) -> str:
    return signing.dumps({"s": site_id, "c": channel, "a": normalise_address(channel, address)},
                         salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_link(site_id: int, channel: str, address: str) -> str:
    return absolute(f"/u/{unsubscribe_token(site_id, channel, address)}/")


def read_unsubscribe_token(token: str) -> dict | None:
    """{"s": site id, "c": channel, "a": address}, or None. Unsubscribe links do not expire."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") not in (EMAIL, SMS) or not isinstance(data.get("a"), str):
        return None
    return data


def record_click(fu: FollowUp, now=None) -> None:
    """The first click on a recovery link is the one kept (the link may be opened many times)."""
    FollowUp.objects.filter(pk=fu.pk, clicked_at__isnull=True).update(clicked_at=now or timezone.now())


def recovery_target(fu: FollowUp, token: str) -> str:
    """Where a recovery click lands: the platform's own checkout URL, the site's template, or the demo store."""
    cart = fu.cart
    if cart.recovery_url.startswith(("https://", "http://")):
        return cart.recovery_url
    template = cart.site.recovery_url
    if template.startswith(("https://", "http://", "/")):
        return template.replace("{token}", token)
    return f"/demo/?recover={token}"


def restore_payload(fu: FollowUp) -> dict:
    """What a store page needs to rebuild the cart: no contact details, the link may have been forwarded."""
    from ..serialize import cart_dict, iso

    cart = fu.cart
    data = cart_dict(cart)
    data.pop("source", None)
    return {"site": cart.site.key, "cart": data, "abandoned_at": iso(cart.abandoned_at), "ordered": _ordered(cart)}
