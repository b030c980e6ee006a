"""The demo store's own server rules: prices from its catalogue, shipping, tax, discount codes, offers.

A real store's server computes its cart from its own catalogue and never
trusts prices from the browser; this module does the same for the demo, then
hands ChatDesk the trusted cart (`apply_cart(..., source="store")`) and, at
the end, the order (`record_order`, source "demo"). The views in views.py only parse and
answer.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from chatdesk.errors import ActionError
from chatdesk.models import CHECKOUT_STEP_ORDER, CHECKOUT_STEPS, Offer, Product, Site, Visitor

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.08")
FREE_SHIPPING_FROM = Decimal("75.00")
SHIPPING_METHODS = {"standard": Decimal("7.50"), "express": Decimal("15.00")}
WELCOME_CODE = "WELCOME10"
MAX_QUANTITY = 99
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,100}$")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"{cents(value):.2f}"


@dataclass
class Priced:
    """A priced cart: `body` is the CONTRACT section 5 cart, plus what the demo page shows."""

    body: dict
    visitor: Visitor | None
    discount_codes: list[str]


def find_visitor(site: Site, visitor_id) -> Visitor | None:
    """The widget's visitor named by the page (ChatDesk.visitorId()), if it is one of this site's."""
    if not visitor_id:
        return None
    try:
        public_id = uuid.UUID(str(visitor_id))
    except ValueError:
        raise ActionError("invalid_field", "'visitor_id' must be a UUID", "visitor_id") from None
    return Visitor.objects.filter(site=site, public_id=public_id).first()


def _accepted_offer(visitor: Visitor | None, offer_id, kinds: tuple[str, ...]) -> Offer | None:
    if visitor is None or offer_id in (None, ""):
        return None
    if isinstance(offer_id, bool) or not isinstance(offer_id, int):
        raise ActionError("invalid_field", "'offer_id' must be an integer", "offer_id")
    return Offer.objects.filter(
        pk=offer_id, status=Offer.ACCEPTED, kind__in=kinds, conversation__visitor=visitor
    ).first()


def discount_rate(code: str) -> Decimal:
    """A code's percentage off: the number it ends with (SAVE15 -> 15%), 10% if none, at most 50%."""
    m = re.search(r"(\d{1,2})$", code)
    pct = int(m.group(1)) if m else 10
    return Decimal(min(max(pct, 1), 50)) / 100


def code_is_valid(site: Site, visitor: Visitor | None, code: str) -> bool:
    """WELCOME10 for anyone; otherwise only the code of an offer this visitor accepted in chat."""
    if code.upper() == WELCOME_CODE:
        return True
    return visitor is not None and Offer.objects.filter(
        conversation__site=site, conversation__visitor=visitor, status=Offer.ACCEPTED, discount_code__iexact=code
    ).exists()


def _text(data: dict, name: str, max_len: int, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_len:
        raise ActionError("invalid_field", f"'{name}' must be a string of at most {max_len} characters", name)
    return value.strip()


def price_cart(site: Site, data: dict) -> Priced:
    """Price a cart the demo page describes (skus and quantities only); raise ActionError on the first bad field."""
    if not isinstance(data, dict):
        raise ActionError("invalid_frame", "the body must be a JSON object")
    token = data.get("cart_token")
    if not isinstance(token, str) or not TOKEN.match(token):
        raise ActionError("invalid_field", "'cart_token' must be 8-100 letters, digits, - or _", "cart_token")
    step = data.get("checkout_step", "cart")
    if step not in CHECKOUT_STEPS:
        raise ActionError("invalid_field", f"'checkout_step' must be one of {', '.join(CHECKOUT_STEPS)}", "checkout_step")
    visitor = find_visitor(site, data.get("visitor_id"))
    items = data.get("items")
    if not isinstance(items, list) or len(items) > 50:
        raise ActionError("invalid_field", "'items' must be a list of at most 50 lines", "items")
    catalogue = {p.sku: p for p in Product.objects.filter(site=site, sku__in=[
        i.get("sku") for i in items if isinstance(i, dict) and isinstance(i.get("sku"), str)])}
    lines, subtotal = [], Decimal("0")
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            raise ActionError("invalid_field", f"'{where}' must be an object", where)
        product = catalogue.get(item.get("sku"))
        if product is None:
            raise ActionError("invalid_field", f"'{where}.sku' is not a product of this store", f"{where}.sku")
        qty = item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QUANTITY:
            raise ActionError("invalid_field", f"'{where}.quantity' must be a whole number from 1 to {MAX_QUANTITY}",
                              f"{where}.quantity")
        unit = product.price
        line = {"sku": product.sku, "name": product.name, "quantity": qty, "image_url": product.image_url,
                "url": product.url}
        offer = _accepted_offer(visitor, item.get("offer_id"), ("upsell", "cross_sell", "bundle"))
        if offer is not None and offer.sku == product.sku and offer.price is not None:
            unit = offer.price  # the price the agent offered, not the catalogue's
            line["offer_id"] = offer.id
        line["unit_price"] = money(unit)
        line["line_total"] = money(unit * qty)
        subtotal += unit * qty
        lines.append(line)

    code = _text(data, "discount_code", 64).upper()
    discount, codes, code_error = Decimal("0"), [], None
    if code:
        if code_is_valid(site, visitor, code):
            discount = cents(subtotal * discount_rate(code))
            codes = [code]
        else:
            code_error = f"'{code}' is not a valid code"

    method = _text(data, "shipping_method", 16, "standard") or "standard"
    if method not in SHIPPING_METHODS:
        raise ActionError("invalid_field", f"'shipping_method' must be one of {', '.join(SHIPPING_METHODS)}",
                          "shipping_method")
    # Shipping and tax appear at the shipping step, as on most real checkouts.
    known = CHECKOUT_STEP_ORDER[step] >= CHECKOUT_STEP_ORDER["shipping"]
    shipping = tax = Decimal("0")
    free_offer = _accepted_offer(visitor, data.get("free_shipping_offer_id"), ("free_shipping",))
    if known and lines:
        shipping = SHIPPING_METHODS[method]
        if method == "standard" and (subtotal - discount >= FREE_SHIPPING_FROM or free_offer is not None):
            shipping = Decimal("0")
        tax = cents((subtotal - discount) * TAX_RATE)
    total = subtotal - discount + shipping + tax
    body = {
        "cart_token": token, "currency": site.currency, "items": lines,
        "subtotal": money(subtotal), "shipping": money(shipping), "tax": money(tax),
        "discount": money(discount), "total": money(total), "checkout_step": step,
        # Extras for the page, ignored by ChatDesk's cart validation:
        "shipping_known": known, "shipping_method": method, "discount_codes": codes,
        "discount_error": code_error, "free_shipping_offer_id": free_offer.id if free_offer else None,
        "free_shipping_from": money(FREE_SHIPPING_FROM),
    }
    return Priced(body=body, visitor=visitor, discount_codes=codes)


def store_cart(site: Site, priced: Priced):
    """Tell ChatDesk the trusted cart, as a store's server does through PUT /api/v1/carts/."""
    from chatdesk.actions.carts import apply_cart, validate_cart

    clean = validate_cart(priced.body, site.currency)
    cart, _ = apply_cart(site, priced.body["cart_token"], clean, source="store", visitor=priced.visitor)
    return cart


def order_id_for(cart_token: str) -> str:
    """One order per cart: a retried "Place order" (a double click, a dropped response) names the same order."""
    return "DEMO-" + hashlib.sha256(cart_token.encode()).hexdigest()[:8].upper()


def place_order(site: Site, priced: Priced, email: str = ""):
    """Record the order in ChatDesk as a store's server does through POST /api/v1/orders/; returns the Order."""
    from django.utils import timezone

    from chatdesk.actions.carts import validate_cart
    from chatdesk.actions.orders import clean_email, record_order
    from chatdesk.models import Order

    body = priced.body
    if not body["items"]:
        raise ActionError("invalid_field", "the cart is empty", "items")
    if body["checkout_step"] != "complete":
        raise ActionError("invalid_field", "an order is placed at the 'complete' step", "checkout_step")
    email = clean_email(email, "email") if email else ""
    order_id = order_id_for(body["cart_token"])
    existing = Order.all_objects.filter(site=site, order_id=order_id).first()
    if existing is not None:
        return existing
    store_cart(site, priced)  # the final cart (shipping, tax, codes) first, as the store knows it
    order, _ = record_order(site, {
        "order_id": order_id, "cart_token": body["cart_token"], "visitor": priced.visitor,
        "currency": body["currency"], "total": Decimal(body["total"]), "created_at": timezone.now(),
        "items": validate_cart({"currency": body["currency"], "items": body["items"]})["items"],
        "discount_codes": priced.discount_codes, "email": email,
    }, source="demo")
    return order
