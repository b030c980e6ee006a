"""Platform payloads to ChatDesk's cart and order shapes: pure functions, no database.

Each `*_cart` returns (cart_token, cart body for `validate_cart`, extra
fields for the Cart row, visitor id hint or None); each `*_order` returns
the dict the view completes for `record_order`. A payload missing what
ChatDesk needs raises ActionError naming the platform's own field (the view
answers 400), so that a store's developer can find it in their payload.
"""
from __future__ import annotations

import html
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..actions.orders import parse_timestamp
from ..currencies import is_currency
from ..errors import ActionError

VISITOR_KEYS = ("chatdesk_visitor_id", "_chatdesk_visitor_id")
CENT = Decimal("0.01")


def money(value, field: str) -> str:
    """Platform money (a string such as "199.00", a JSON number in WooCommerce line items, or a Decimal
    computed from them) as "0.00"."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ActionError("invalid_field", f"'{field}' must be an amount", field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ActionError("invalid_field", f"'{field}' must be an amount", field) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise ActionError("invalid_field", f"'{field}' must be a non-negative amount", field)
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def _opt_money(payload: dict, key: str) -> str | None:
    value = payload.get(key)
    return None if value in (None, "") else money(value, key)


def _text(value, limit: int) -> str:
    return html.unescape(value)[:limit] if isinstance(value, str) else ""


def _require_list(payload: dict, key: str) -> list:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise ActionError("invalid_field", f"'{key}' must be a list", key)
    return value


MAX_QUANTITY = 10000  # validate_cart's bound for one line


def _merge_items(items: list[tuple[str, dict]]) -> list[dict]:
    """Lines of the same SKU become one (Shopify may repeat an identical line): quantities add up.

    `items` pairs each line with where it sits in the payload, to name the line that tips a SKU over the bound.
    """
    merged: dict[str, dict] = {}
    for where, item in items:
        if item["sku"] in merged:
            quantity = merged[item["sku"]]["quantity"] + item["quantity"]
            if quantity > MAX_QUANTITY:
                raise ActionError("invalid_field", f"'{where}.quantity' brings SKU '{item['sku'][:40]}' over "
                                  f"{MAX_QUANTITY} in all", f"{where}.quantity")
            merged[item["sku"]]["quantity"] = quantity
        else:
            merged[item["sku"]] = dict(item)
    return list(merged.values())


def _quantity(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise ActionError("invalid_field", f"'{field}' must be a whole number from 1 to {MAX_QUANTITY}", field)
    return value


def _currency(payload: dict, keys: tuple[str, ...], default: str | None = None) -> str:
    """The first of `keys` the payload fills, as an ISO 4217 code; the error names that key."""
    key = next((k for k in keys if payload.get(k)), keys[-1])
    value = payload.get(key) or default
    if not is_currency(value):
        raise ActionError("invalid_field", f"'{key}' must be an ISO 4217 code such as USD", key)
    return value


def _timestamp(payload: dict, keys: tuple[str, ...], value=None):
    """The first of `keys` the payload fills, parsed (`value` when the caller had to adjust it first)."""
    key = next((k for k in keys if payload.get(k)), keys[0])
    return parse_timestamp(payload.get(key) if value is None else value, key)


def _note_visitor(attributes) -> str | None:
    """The widget's visitor id the storefront put in cart attributes (Shopify) or order meta (WooCommerce)."""
    for entry in attributes if isinstance(attributes, list) else []:
        if not isinstance(entry, dict):
            continue
        key = entry.get("name", entry.get("key"))
        if key in VISITOR_KEYS and isinstance(entry.get("value"), str):
            return entry["value"].strip()
    return None


def _phone(*candidates) -> str:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()[:40]
    return ""


def valid_email(value) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not isinstance(value, str) or not value or len(value) > 254:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


# --- Shopify -------------------------------------------------------------------------------------

def shopify_items(payload: dict) -> list[dict]:
    items = []
    for i, line in enumerate(_require_list(payload, "line_items")):
        where = f"line_items[{i}]"
        if not isinstance(line, dict):
            raise ActionError("invalid_field", f"'{where}' must be an object", where)
        sku = line.get("sku") or ""
        if not isinstance(sku, str) or not sku.strip():
            # No SKU in the store: the variant (or product, or line) id keeps lines apart.
            ref = line.get("variant_id") or line.get("product_id") or line.get("id") or i
            sku = f"shopify-{ref}"
        title = _text(line.get("title") or line.get("name"), 300)
        variant = _text(line.get("variant_title"), 100)
        items.append((where, {
            "sku": sku.strip()[:100],
            "name": f"{title} - {variant}"[:300] if variant and variant not in title else title,
            "quantity": _quantity(line.get("quantity"), f"{where}.quantity"),
            "unit_price": money(line.get("price"), f"{where}.price"),
        }))
    return _merge_items(items)


def shopify_step(payload: dict) -> str:
    """Shopify does not say which checkout page the shopper is on; what they gave tells how far they got."""
    if payload.get("completed_at"):
        return "review"
    if payload.get("shipping_lines"):
        return "shipping"
    if payload.get("email") or payload.get("phone") or payload.get("shipping_address"):
        return "contact"
    return "cart"


def shopify_cart(payload: dict, default_currency: str):
    token = payload.get("token")
    key = "cart_token" if payload.get("cart_token") else "token"
    cart_token = payload.get(key)
    if not isinstance(cart_token, str) or not 1 <= len(cart_token) <= 200:
        raise ActionError("invalid_field", f"a checkout needs its '{key}' (a string of 1-200 characters)", key)
    shipping = Decimal("0.00")
    for i, line in enumerate(_require_list(payload, "shipping_lines")):
        where = f"shipping_lines[{i}]"
        if not isinstance(line, dict):
            raise ActionError("invalid_field", f"'{where}' must be an object", where)
        shipping += Decimal(money(line.get("price"), f"{where}.price"))
    body = {
        "currency": _currency(payload, ("presentment_currency", "currency"), default_currency),
        "items": shopify_items(payload),
        "subtotal": _opt_money(payload, "subtotal_price"),
        "shipping": f"{shipping:.2f}",
        "tax": _opt_money(payload, "total_tax"),
        "discount": _opt_money(payload, "total_discounts"),
        "total": _opt_money(payload, "total_price"),
        "checkout_step": shopify_step(payload),
    }
    billing = payload.get("billing_address") if isinstance(payload.get("billing_address"), dict) else {}
    shipping_address = payload.get("shipping_address") if isinstance(payload.get("shipping_address"), dict) else {}
    extra = {
        "external_id": str(token)[:100] if token else "",
        "email": valid_email(payload.get("email")),
        "phone": _phone(payload.get("phone"), payload.get("sms_marketing_phone"), billing.get("phone"),
                        shipping_address.get("phone")),
        "consent_email": payload.get("buyer_accepts_marketing") is True,
        "consent_sms": payload.get("buyer_accepts_sms_marketing") is True,
    }
    url = payload.get("abandoned_checkout_url")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        extra["recovery_url"] = url[:1000]
    extra = {k: v for k, v in extra.items() if v not in ("", None)} | {
        "consent_email": extra["consent_email"], "consent_sms": extra["consent_sms"]}
    return cart_token, body, extra, _note_visitor(payload.get("note_attributes"))


def shopify_order(payload: dict) -> dict:
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or not str(order_id).strip():
        raise ActionError("invalid_field", "an order needs its 'id'", "id")
    codes = [d.get("code") for d in _require_list(payload, "discount_codes") if isinstance(d, dict)]
    return {
        "order_id": str(order_id)[:100],
        "cart_token": payload.get("cart_token") or "",
        "checkout_token": payload.get("checkout_token") or "",
        "visitor_id": _note_visitor(payload.get("note_attributes")),
        "currency": _currency(payload, ("currency",)),
        "total": money(payload.get("total_price"), "total_price"),
        "items": shopify_items(payload),
        "created_at": _timestamp(payload, ("created_at", "processed_at")),
        "discount_codes": [c[:64] for c in codes if isinstance(c, str) and c][:20],
        "email": valid_email(payload.get("email")) or valid_email(payload.get("contact_email")),
    }


# --- WooCommerce ---------------------------------------------------------------------------------

# Orders in these states are paid for (or promised, for on-hold bank transfers).
WC_PAID = {"processing", "completed", "on-hold"}
# An order in these states is a checkout in progress: the cart reached payment.
WC_OPEN = {"pending", "failed", "checkout-draft"}
# An order in these states no longer stands: a recorded one stops counting.
WC_CANCELLED = {"cancelled", "refunded"}


def woocommerce_items(payload: dict) -> list[dict]:
    items = []
    for i, line in enumerate(_require_list(payload, "line_items")):
        where = f"line_items[{i}]"
        if not isinstance(line, dict):
            raise ActionError("invalid_field", f"'{where}' must be an object", where)
        sku = line.get("sku") or ""
        if not isinstance(sku, str) or not sku.strip():
            sku = f"wc-{line.get('variation_id') or line.get('product_id') or line.get('id') or i}"
        quantity = _quantity(line.get("quantity"), f"{where}.quantity")
        price = line.get("price")
        if price is None:
            # Either field would do, so the error names the line that has neither.
            if line.get("subtotal") in (None, ""):
                raise ActionError("invalid_field", f"'{where}' has neither a price nor a subtotal", where)
            price = Decimal(money(line["subtotal"], f"{where}.subtotal")) / quantity
        items.append((where, {
            "sku": sku.strip()[:100],
            "name": _text(line.get("name"), 300),
            "quantity": quantity,
            "unit_price": money(price, f"{where}.price"),
        }))
    return _merge_items(items)


def woocommerce_cart_token(payload: dict) -> str:
    token = payload.get("cart_hash") or ""
    return token if isinstance(token, str) and len(token) <= 200 else ""


def woocommerce_contact(payload: dict) -> dict:
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    return {"email": valid_email(billing.get("email")), "phone": _phone(billing.get("phone"))}


def woocommerce_cart(payload: dict, default_currency: str):
    """An unpaid order (pending, failed) is the checkout of a cart that reached payment."""
    token = woocommerce_cart_token(payload)
    if not token:
        raise ActionError("invalid_field", "an unpaid order without 'cart_hash' names no cart", "cart_hash")
    body = {
        "currency": _currency(payload, ("currency",), default_currency),
        "items": woocommerce_items(payload),
        "shipping": _opt_money(payload, "shipping_total"),
        "tax": _opt_money(payload, "total_tax"),
        "discount": _opt_money(payload, "discount_total"),
        "total": _opt_money(payload, "total"),
        "checkout_step": "payment",
    }
    extra = {k: v for k, v in woocommerce_contact(payload).items() if v}
    extra["external_id"] = str(payload.get("id") or "")[:100]
    return token, body, extra, _note_visitor(payload.get("meta_data"))


def woocommerce_order(payload: dict) -> dict:
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or not str(order_id).strip():
        raise ActionError("invalid_field", "an order needs its 'id'", "id")
    created = payload.get("date_created_gmt")
    # WooCommerce writes GMT times without an offset.
    created_at = f"{created}+00:00" if isinstance(created, str) and created and created[-1].isdigit() else created
    codes = [c.get("code") for c in _require_list(payload, "coupon_lines") if isinstance(c, dict)]
    return {
        "order_id": str(order_id)[:100],
        "cart_token": woocommerce_cart_token(payload),
        "checkout_token": "",
        "visitor_id": _note_visitor(payload.get("meta_data")),
        "currency": _currency(payload, ("currency",)),
        "total": money(payload.get("total"), "total"),
        "items": woocommerce_items(payload),
        "created_at": _timestamp(payload, ("date_created_gmt",), created_at),
        "discount_codes": [c[:64] for c in codes if isinstance(c, str) and c][:20],
        "email": woocommerce_contact(payload)["email"],
    }
