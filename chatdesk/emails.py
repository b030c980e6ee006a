"""The cart recovery email: HTML and text parts, the cart's lines, a signed recovery link, one-click unsubscribe.

Sent through Django's email framework, so the backend decides the transport:
the console backend in the demo, SMTP or a django-anymail provider in
production (docs/offers-and-followups.md).
"""
from __future__ import annotations

from decimal import Decimal
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import FollowUp


def _absolute(url: str) -> str:
    if not url or url.startswith(("https://", "http://")):
        return url
    return settings.PUBLIC_BASE_URL.rstrip("/") + "/" + url.lstrip("/")


def email_context(fu: FollowUp) -> dict:
    from .actions.followups import recovery_link, unsubscribe_link

    cart = fu.cart
    lines = []
    for item in cart.items:
        unit = Decimal(str(item.get("unit_price", "0")))
        qty = int(item.get("quantity", 1))
        lines.append({
            "sku": item.get("sku", ""), "name": item.get("name") or item.get("sku", ""), "quantity": qty,
            "unit_price": f"{unit:.2f}", "line_total": f"{unit * qty:.2f}",
            "image_url": _absolute(item.get("image_url", "")),
        })
    return {
        "site": cart.site, "cart": cart, "lines": lines, "currency": cart.currency,
        "subtotal": f"{cart.subtotal:.2f}", "shipping": f"{cart.shipping:.2f}", "tax": f"{cart.tax:.2f}",
        "discount": f"{cart.discount:.2f}", "total": f"{cart.total:.2f}",
        # Shipping, tax and discount, when there are any, so that the lines add up to the total.
        "extras": [(label, f"{-value if label == 'Discount' else value:.2f}")
                   for label, value in (("Shipping", cart.shipping), ("Tax", cart.tax), ("Discount", cart.discount))
                   if value],
        "recovery_url": recovery_link(fu),
        "unsubscribe_url": unsubscribe_link(cart.site_id, "email", fu.recipient),
        "name": (cart.visitor.name if cart.visitor_id else "") or "",
    }


def recovery_email(fu: FollowUp) -> EmailMultiAlternatives:
    """Build (not send) the recovery email of an email follow-up whose `recipient` is set."""
    ctx = email_context(fu)
    site = fu.cart.site
    subject = f"{site.name}: your cart is waiting for you"
    text = render_to_string("followups/cart_email.txt", ctx)
    html = render_to_string("followups/cart_email.html", ctx)
    _, from_addr = parseaddr(settings.DEFAULT_FROM_EMAIL)
    domain = (from_addr.rpartition("@")[2] or urlsplit(settings.PUBLIC_BASE_URL).hostname or "localhost")
    headers = {
        # RFC 2369 + RFC 8058: mail clients show an unsubscribe button that POSTs to this URL.
        "List-Unsubscribe": f"<{ctx['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": make_msgid(f"followup-{fu.pk}", domain=domain),
        "X-ChatDesk-FollowUp": str(fu.pk),
    }
    message = EmailMultiAlternatives(
        subject, text, formataddr((site.name, from_addr or "noreply@localhost")), [fu.recipient], headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message
