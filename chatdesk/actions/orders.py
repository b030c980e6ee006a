"""Completed orders from stores: validate, store once per (site, order_id), close the cart, attribute.

Three doors call `record_order`: the store API (`POST /api/v1/orders/`), the
Shopify and WooCommerce webhooks, and the demo store's checkout. Each passes
a clean dict (see `record_order`); `validate_order` turns a raw JSON body
into one.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..currencies import is_currency
from ..errors import ActionError
from ..models import Cart, CartEvent, Order, OrderLine, Site, Visitor
from .carts import _after_cart_change, parse_money, validate_cart

# An order dated further ahead than this is a clock or typing mistake.
FUTURE_SLACK = timedelta(days=1)
# Nor is any order older than this; and a time near year 1 with a positive offset is year 0 in UTC, which
# PostgreSQL stores but Python cannot read back.
EARLIEST = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def parse_timestamp(value, field: str) -> datetime:
    """An ISO 8601 time with a UTC offset (`Z` or `+02:00`); a time without one is ambiguous and refused."""
    if not isinstance(value, str):
        raise ActionError("invalid_field", f"'{field}' must be an ISO 8601 time such as 2025-05-01T12:00:00Z", field)
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ActionError("invalid_field", f"'{field}' must be an ISO 8601 time such as 2025-05-01T12:00:00Z", field)
    if parsed.tzinfo is None:
        raise ActionError("invalid_field", f"'{field}' must include a UTC offset, e.g. 2025-05-01T12:00:00Z", field)
    if parsed > timezone.now() + FUTURE_SLACK:
        raise ActionError("invalid_field", f"'{field}' is more than a day in the future", field)
    if parsed < EARLIEST:
        raise ActionError("invalid_field", f"'{field}' is before 1970", field)
    return parsed


def parse_visitor_id(value, field: str = "visitor_id") -> uuid.UUID:
    if not isinstance(value, str):
        raise ActionError("invalid_field", f"'{field}' must be the widget's visitor id (a UUID string)", field)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ActionError("invalid_field", f"'{field}' must be the widget's visitor id (a UUID string)", field) from None


def find_visitor(site: Site, visitor_id, field: str = "visitor_id") -> Visitor:
    """The site's visitor with this public id; another site's visitor is refused (403), an unknown one is a 400."""
    vid = visitor_id if isinstance(visitor_id, uuid.UUID) else parse_visitor_id(visitor_id, field)
    visitor = Visitor.objects.filter(public_id=vid).first()
    if visitor is None:
        raise ActionError("invalid_field", f"'{field}' names no visitor of this site", field)
    if visitor.site_id != site.id:
        raise ActionError("forbidden", f"'{field}' belongs to another site", field)
    return visitor


def validate_order(site: Site, data) -> dict:
    """Check an order body (CONTRACT section 4) and return the clean dict `record_order` takes; raise on a bad field."""
    if not isinstance(data, dict):
        raise ActionError("invalid_field", "the order must be a JSON object", "non_field_errors")
    order_id = data.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)  # platforms number orders; the id is compared as text
    if not isinstance(order_id, str) or not 1 <= len(order_id.strip()) <= 100:
        raise ActionError("invalid_field", "'order_id' must be a string of 1-100 characters", "order_id")
    cart_token = data.get("cart_token")
    if cart_token is not None and (not isinstance(cart_token, str) or not 1 <= len(cart_token) <= 200):
        raise ActionError("invalid_field", "'cart_token' must be a string of 1-200 characters", "cart_token")
    visitor = None
    if data.get("visitor_id") is not None:
        visitor = find_visitor(site, data["visitor_id"])
    if not cart_token and visitor is None:
        raise ActionError("invalid_field", "give 'cart_token' or 'visitor_id' so the order can be joined", "cart_token")
    currency = data.get("currency")
    if not is_currency(currency):
        raise ActionError("invalid_field", "'currency' must be an ISO 4217 code such as USD", "currency")
    if "total" not in data:
        raise ActionError("invalid_field", "'total' is required", "total")
    total = parse_money(data.get("total"), "total")
    items = data.get("items")
    if not isinstance(items, list):
        raise ActionError("invalid_field", "'items' must be a list of cart items", "items")
    # Items follow the cart's rules exactly (section 5).
    clean_items = validate_cart({"currency": currency, "items": items})["items"]
    created_at = parse_timestamp(data.get("created_at"), "created_at")
    codes = data.get("discount_codes", [])
    if not isinstance(codes, list) or len(codes) > 20 or not all(isinstance(c, str) and 1 <= len(c) <= 64 for c in codes):
        raise ActionError("invalid_field", "'discount_codes' must be a list of codes (strings of 1-64 characters)",
                          "discount_codes")
    email = data.get("email") or ""
    if email:
        email = clean_email(email, "email")
    return {
        "order_id": order_id.strip(), "cart_token": cart_token or "", "visitor": visitor, "currency": currency,
        "total": total, "items": clean_items, "created_at": created_at, "discount_codes": codes, "email": email,
    }


def clean_email(value, field: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not isinstance(value, str) or len(value) > 254:
        raise ActionError("invalid_field", f"'{field}' must be an email address", field)
    try:
        validate_email(value)
    except ValidationError:
        raise ActionError("invalid_field", f"'{field}' must be an email address", field) from None
    return value


def find_cart(site: Site, cart_token: str = "", checkout_token: str = "") -> Cart | None:
    """The site's cart an order joins: by cart token, else by the platform's checkout token."""
    for token in (cart_token, checkout_token):
        if token:
            cart = Cart.objects.select_for_update().filter(site=site, cart_token=token).first()
            if cart is not None:
                return cart
    if checkout_token:
        return Cart.objects.select_for_update().filter(site=site, external_id=checkout_token).first()
    return None


def _lines_of(order: Order) -> list[tuple]:
    return sorted((l.sku, l.name, l.quantity, l.unit_price) for l in order.lines.all())


def _wanted_lines(items) -> list[tuple]:
    return sorted((i["sku"], i.get("name", ""), i["quantity"], Decimal(str(i["unit_price"])).quantize(Decimal("0.01")))
                  for i in items)


def mark_cart_ordered(cart: Cart, order: Order) -> bool:
    """Close a cart with its order (event `ordered`, `ordered_at`); a cart is ordered once. Caller holds the lock."""
    if cart.ordered_at is not None:
        return False
    cart.ordered_at = order.created_at
    cart.checkout_step = "complete"
    cart.max_step_reached = "complete"
    fields = ["ordered_at", "checkout_step", "max_step_reached", "updated_at"]
    if cart.visitor_id is None and order.visitor_id is not None:
        cart.visitor_id = order.visitor_id
        fields.append("visitor")
    cart.save(update_fields=fields)
    CartEvent.objects.create(
        cart=cart, kind=CartEvent.ORDERED, source=order.source, created_at=order.created_at,
        data={"order_id": order.order_id, "total": f"{order.total:.2f}", "currency": order.currency},
    )
    return True


def record_order(site: Site, clean: dict, source: str) -> tuple[Order, bool]:
    """Store a completed order once per (site, order_id) and return (order, created).

    `clean` keys (as `validate_order` returns them):
      order_id (str), currency (ISO 4217), total (Decimal), created_at (aware datetime),
      items: [{sku, name, quantity, unit_price (Decimal or decimal string)}],
      cart_token (str, optional), checkout_token (str, optional: a platform's checkout id),
      visitor (Visitor, optional) or visitor_id (UUID or str, optional),
      discount_codes ([str], optional), email (str, optional).
    `source` says who told us: "api", "shopify", "woocommerce" or "demo".

    The same order again changes nothing and returns created=False; an
    updated one (other total, lines, codes) is updated in place, never
    doubled. The joined cart is marked ordered (CartEvent `ordered`,
    `Cart.ordered_at`), and `chatdesk.attribution.attribute_order(order)` runs
    inside the same transaction when the order is new or changed (so it must
    be idempotent). Raises ActionError only for a visitor of another site.
    """
    from ..attribution import attribute_order

    visitor = clean.get("visitor")
    if visitor is None and clean.get("visitor_id"):
        visitor = find_visitor(site, clean["visitor_id"])
    elif visitor is not None and visitor.site_id != site.id:
        raise ActionError("forbidden", "'visitor_id' belongs to another site", "visitor_id")
    cart_token = clean.get("cart_token") or ""
    checkout_token = clean.get("checkout_token") or ""
    wanted = _wanted_lines(clean["items"])
    try:
        with transaction.atomic():
            order, created = _record(site, clean, source, visitor, cart_token, checkout_token, wanted, attribute_order)
    except IntegrityError:
        # Two deliveries of one new order raced: the loser finds the winner's row.
        with transaction.atomic():
            order, created = _record(site, clean, source, visitor, cart_token, checkout_token, wanted, attribute_order)
    return order, created


def _record(site, clean, source, visitor, cart_token, checkout_token, wanted, attribute_order):
    # All orders, cancelled ones too: a late or replayed placement never revives
    # a cancellation (webhooks arrive in any order), and never doubles a row.
    order = Order.all_objects.select_for_update().filter(site=site, order_id=clean["order_id"]).first()
    cart = find_cart(site, cart_token, checkout_token)
    if cart is None and visitor is not None:
        # Only a visitor given: the order completes their recent open cart.
        since = timezone.now() - timedelta(hours=site.attribution_window_hours)
        cart = (Cart.objects.select_for_update().filter(site=site, visitor=visitor, ordered_at__isnull=True,
                                                        updated_at__gte=since).order_by("-updated_at").first())
    if visitor is None and cart is not None and cart.visitor_id:
        visitor = cart.visitor
    fields = {
        "currency": clean["currency"], "total": clean["total"], "created_at": clean["created_at"],
        "discount_codes": list(clean.get("discount_codes") or []),
        "email": clean.get("email") or (cart.email if cart else "") or "",
    }
    created = order is None
    if created:
        order = Order.objects.create(
            site=site, order_id=clean["order_id"], source=source, cart=cart, visitor=visitor,
            cart_token=cart_token or (cart.cart_token if cart else ""), checkout_token=checkout_token, **fields,
        )
        changed = True
    else:
        changed = _lines_of(order) != wanted or any(getattr(order, k) != v for k, v in fields.items())
        for key, value in fields.items():
            setattr(order, key, value)
        # A later delivery may know the cart or visitor an earlier one did not.
        if order.cart_id is None and cart is not None:
            order.cart = cart
            changed = True
        if order.visitor_id is None and visitor is not None:
            order.visitor = visitor
            changed = True
        if changed:
            order.save()
            order.lines.all().delete()
    if changed:
        OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=sku, name=name, quantity=qty, unit_price=price) for sku, name, qty, price in wanted
        )
    if order.cart_id is not None:
        cart = Cart.objects.select_for_update().get(pk=order.cart_id)
        order.cart = cart
        if mark_cart_ordered(cart, order):
            _after_cart_change(cart)
    if changed and order.cancelled_at is None:
        attribute_order(order)
    return order, created


def cancel_order(site: Site, order_id: str, reason: str = Order.CANCELLED, at=None) -> Order | None:
    """The store cancelled or refunded an order: it stops counting in every figure.

    Returns the order, or None when ChatDesk never heard of it (nothing is
    stored then). Idempotent: a second cancellation keeps the first time.
    The row, its lines and its attribution stay for the record (admin).
    """
    if reason not in (Order.CANCELLED, Order.REFUNDED):
        raise ActionError("invalid_field", f"'status' must be placed, {Order.CANCELLED} or {Order.REFUNDED}", "status")
    with transaction.atomic():
        order = Order.all_objects.select_for_update().filter(site=site, order_id=str(order_id)[:100]).first()
        if order is None:
            return None
        if order.cancelled_at is None:
            order.cancelled_at = at or timezone.now()
            order.cancel_reason = reason
            order.save(update_fields=["cancelled_at", "cancel_reason", "updated_at"])
    return order


def join_late_order(cart: Cart) -> Order | None:
    """A store cart that arrives after its order (webhooks are not ordered): find that order and close the cart."""
    if cart.ordered_at is not None:
        return None
    keys = [k for k in (cart.cart_token, cart.external_id) if k]
    from django.db.models import Q

    query = Q(cart_token__in=keys) | Q(checkout_token__in=keys)
    order = Order.objects.select_for_update().filter(query, site_id=cart.site_id, cart__isnull=True).first()
    if order is None:
        return None
    order.cart = cart
    if order.visitor_id is None and cart.visitor_id:
        order.visitor_id = cart.visitor_id
    order.save(update_fields=["cart", "visitor", "updated_at"])
    mark_cart_ordered(cart, order)
    return order
