"""Carts: validate a cart body, store it (the store's word wins over the widget's), record the journey."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from .. import hotreads
from ..currencies import is_currency
from ..errors import ActionError
from ..events import agent_group, emit, site_agents_group
from ..models import CHECKOUT_STEP_ORDER, CHECKOUT_STEPS, Cart, CartEvent, CartSnapshot, Conversation, Site, Visitor
from ..serialize import cart_dict

CURRENCY = re.compile(r"^[A-Z]{3}$")
MONEY = re.compile(r"^-?\d{1,10}(\.\d{1,2})?$")
MONEY_FIELDS = ("subtotal", "shipping", "tax", "discount", "total")
# The largest amount a money column (DecimalField(max_digits=12, decimal_places=2)) holds.
MAX_AMOUNT = Decimal("9999999999.99")


def parse_money(value, field: str, allow_negative: bool = False) -> Decimal:
    if not isinstance(value, str) or not MONEY.match(value):
        raise ActionError("invalid_field", f"'{field}' must be a decimal string such as \"19.99\"", field)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ActionError("invalid_field", f"'{field}' must be a decimal string", field) from None
    if amount < 0 and not allow_negative:
        raise ActionError("invalid_field", f"'{field}' must not be negative", field)
    return amount.quantize(Decimal("0.01"))


def validate_cart(data: dict, default_currency: str = "USD") -> dict:
    """Check a cart body (CONTRACT section 5) and return it clean, money as Decimal; raise on the first bad field."""
    if not isinstance(data, dict):
        raise ActionError("invalid_field", "'cart' must be an object", "cart")
    currency = data.get("currency", default_currency)
    if not is_currency(currency):
        raise ActionError("invalid_field", "'currency' must be an ISO 4217 code such as USD", "currency")
    step = data.get("checkout_step", "cart")
    if step not in CHECKOUT_STEPS:
        raise ActionError("invalid_field", f"'checkout_step' must be one of {', '.join(CHECKOUT_STEPS)}", "checkout_step")
    items = data.get("items", [])
    if not isinstance(items, list) or len(items) > 200:
        raise ActionError("invalid_field", "'items' must be a list of at most 200 items", "items")
    clean_items = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            raise ActionError("invalid_field", f"'{where}' must be an object", where)
        sku = item.get("sku")
        if not isinstance(sku, str) or not 1 <= len(sku) <= 100:
            raise ActionError("invalid_field", f"'{where}.sku' must be a string of 1-100 characters", f"{where}.sku")
        name = item.get("name", "")
        if not isinstance(name, str) or len(name) > 300:
            raise ActionError("invalid_field", f"'{where}.name' must be a string of at most 300 characters", f"{where}.name")
        qty = item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= 10000:
            raise ActionError("invalid_field", f"'{where}.quantity' must be a positive integer", f"{where}.quantity")
        unit = parse_money(item.get("unit_price"), f"{where}.unit_price")
        clean = {"sku": sku, "name": name, "quantity": qty, "unit_price": f"{unit:.2f}"}
        for opt in ("image_url", "url"):
            value = item.get(opt)
            if value is not None:
                if not isinstance(value, str) or len(value) > 1000:
                    raise ActionError("invalid_field", f"'{where}.{opt}' must be a string", f"{where}.{opt}")
                clean[opt] = value
        clean_items.append(clean)
    out = {"currency": currency, "checkout_step": step, "items": clean_items}
    for field in MONEY_FIELDS:
        if field in data and data[field] is not None:
            out[field] = parse_money(data[field], field)
        else:
            out[field] = None
    # Each amount fits a money column alone; what ChatDesk adds up must fit too (orders' lines are summed
    # into offer revenue), or PostgreSQL refuses the row.
    items_sum = sum((Decimal(i["unit_price"]) * i["quantity"] for i in clean_items), Decimal("0.00"))
    if items_sum > MAX_AMOUNT:
        raise ActionError("invalid_field", f"'items' add up to more than {MAX_AMOUNT}", "items")
    if out["subtotal"] is None:
        out["subtotal"] = items_sum
    for field in ("shipping", "tax", "discount"):
        if out[field] is None:
            out[field] = Decimal("0.00")
    if out["total"] is None:
        total = out["subtotal"] + out["shipping"] + out["tax"] - out["discount"]
        if not 0 <= total <= MAX_AMOUNT:
            raise ActionError("invalid_field", "'total' is missing and subtotal + shipping + tax - discount is "
                              f"not between 0 and {MAX_AMOUNT}", "total")
        out["total"] = total
    return out


def _diff_events(cart: Cart, old: dict | None, new: dict, source: str, now) -> list[CartEvent]:
    events = []
    old_items = {i["sku"]: i for i in (old or {}).get("items", [])}
    new_items = {i["sku"]: i for i in new["items"]}
    for sku, item in new_items.items():
        if sku not in old_items:
            events.append(CartEvent(cart=cart, kind=CartEvent.ITEM_ADDED, source=source, created_at=now,
                                    data={"sku": sku, "name": item["name"], "quantity": item["quantity"]}))
        elif old_items[sku]["quantity"] != item["quantity"]:
            events.append(CartEvent(cart=cart, kind=CartEvent.QUANTITY_CHANGED, source=source, created_at=now,
                                    data={"sku": sku, "from": old_items[sku]["quantity"], "to": item["quantity"]}))
    for sku, item in old_items.items():
        if sku not in new_items:
            events.append(CartEvent(cart=cart, kind=CartEvent.ITEM_REMOVED, source=source, created_at=now,
                                    data={"sku": sku, "name": item.get("name", "")}))
    old_step = (old or {}).get("checkout_step")
    if old_step != new["checkout_step"] and (old is not None or new["checkout_step"] != "cart"):
        events.append(CartEvent(cart=cart, kind=CartEvent.STEP_CHANGED, source=source, created_at=now,
                                data={"from": old_step, "to": new["checkout_step"]}))
    old_shipping = Decimal((old or {}).get("shipping") or "0")
    # "First shown": a shipping cost that disappears and comes back is no news.
    if new["shipping"] > 0 and old_shipping == 0 and not (
        cart.pk and cart.events.filter(kind=CartEvent.SHIPPING_SHOWN).exists()
    ):
        events.append(CartEvent(cart=cart, kind=CartEvent.SHIPPING_SHOWN, source=source, created_at=now,
                                data={"shipping": f"{new['shipping']:.2f}"}))
    old_discount = Decimal((old or {}).get("discount") or "0")
    if new["discount"] > 0 and new["discount"] != old_discount:
        events.append(CartEvent(cart=cart, kind=CartEvent.DISCOUNT_APPLIED, source=source, created_at=now,
                                data={"discount": f"{new['discount']:.2f}"}))
    return events


def _state(cart: Cart) -> dict:
    return {
        "items": cart.items, "checkout_step": cart.checkout_step,
        "shipping": str(cart.shipping), "discount": str(cart.discount),
    }


def apply_cart(site: Site, cart_token: str, clean: dict, source: str, visitor: Visitor | None = None,
               extra: dict | None = None) -> tuple[Cart | None, bool]:
    """Store a validated cart. A widget cart never overwrites one the store has sent; returns (cart, changed)."""
    now = timezone.now()
    with transaction.atomic():
        cart = Cart.objects.select_for_update().filter(site=site, cart_token=cart_token).first()
        old = _state(cart) if cart else None
        if cart is None:
            cart = Cart(site=site, cart_token=cart_token, source=Cart.STORE if source != "widget" else Cart.WIDGET)
        elif source == "widget" and cart.source == Cart.STORE:
            # The store's word wins: keep its cart, only link the visitor.
            if visitor and cart.visitor_id is None:
                cart.visitor = visitor
                cart.save(update_fields=["visitor"])
            return cart, False
        if source != "widget":
            cart.source = Cart.STORE
        if visitor is not None:
            cart.visitor = visitor
        cart.currency = clean["currency"]
        cart.items = clean["items"]
        for field in MONEY_FIELDS:
            setattr(cart, field, clean[field])
        cart.checkout_step = clean["checkout_step"]
        if CHECKOUT_STEP_ORDER[cart.checkout_step] > CHECKOUT_STEP_ORDER.get(cart.max_step_reached, 0):
            cart.max_step_reached = cart.checkout_step
        cart.last_activity_at = now
        cart.abandoned_at = None if cart.ordered_at is None else cart.abandoned_at
        for key, value in (extra or {}).items():
            setattr(cart, key, value)
        cart.save()
        snapshot = dict(clean)
        for field in MONEY_FIELDS:
            snapshot[field] = f"{clean[field]:.2f}"
        CartSnapshot.objects.create(cart=cart, source=source, data=snapshot)
        CartEvent.objects.bulk_create(_diff_events(cart, old, clean, source, now))
        _after_cart_change(cart)
        # Here rather than in each caller, so every door (widget, API, webhooks, the demo store) runs them.
        _cart_changed_hooks(cart)
    return cart, True


def _after_cart_change(cart: Cart) -> None:
    """Link the cart to the visitor's open conversation, re-rank it if waiting, and tell agents."""
    from ..routing import refresh_priority
    from .queue import broadcast_queue

    conv = None
    if cart.visitor_id:
        conv = (
            Conversation.objects.select_related("site", "visitor")
            .filter(visitor_id=cart.visitor_id, status__in=Conversation.OPEN_STATUSES).first()
        )
    frame = {
        "type": "cart",
        "visitor_id": str(cart.visitor.public_id) if cart.visitor_id else None,
        "conversation_id": conv.id if conv else None,
        "cart": cart_dict(cart),
    }
    emit(site_agents_group(cart.site_id), frame)
    if cart.visitor_id:
        from agents.at_checkout import announce

        announce(cart.visitor_id)
    if conv is not None:
        if conv.agent_id:
            emit(agent_group(conv.agent_id), frame)
        changed = conv.cart_id != cart.id
        conv.cart = cart
        if conv.status == Conversation.QUEUED:
            refresh_priority(conv)  # re-ranks, and re-applies the queue rules (cart value)
            conv.save(update_fields=["cart", "priority_key", "team"])
            broadcast_queue(conv.site)
        elif changed:
            conv.save(update_fields=["cart"])


# A current cart the caller has not read (None is a cart read and found absent): the callee reads it.
UNREAD = object()


@hotreads.statement
def _current_cart_sql() -> str:
    return (f"SELECT * FROM {hotreads.table(Cart)} WHERE visitor_id = %s AND ordered_at IS NULL "
            "ORDER BY updated_at DESC, id DESC LIMIT 1")


def current_cart(visitor: Visitor) -> Cart | None:
    """The visitor's most recently updated cart that has not become an order (a hot read: chatdesk.hotreads)."""
    cart = hotreads.first(Cart, _current_cart_sql(), [visitor.pk])
    if cart is not None:
        cart.visitor = visitor  # as the related manager would have set it: no query for it later
    return cart


def widget_cart_token(visitor: Visitor, data: dict) -> str:
    token = data.get("cart_token")
    if isinstance(token, str) and 1 <= len(token) <= 200:
        return token
    # A page that sends no token is describing the cart the store already
    # told us about; pointing it there lets the store's word keep winning.
    store_cart = (visitor.carts.filter(source=Cart.STORE, ordered_at__isnull=True)
                  .order_by("-updated_at").values_list("cart_token", flat=True).first())
    return store_cart or f"w-{visitor.public_id}"


def record_widget_cart(visitor: Visitor, data: dict) -> Cart | None:
    """A cart frame from the widget: the shopper's word, stored unless the store has spoken."""
    clean = validate_cart(data, visitor.site.currency)
    token = widget_cart_token(visitor, data)
    existing = Cart.objects.filter(site_id=visitor.site_id, cart_token=token).exclude(visitor=visitor).exclude(visitor=None)
    if existing.exists():
        raise ActionError("forbidden", "this cart belongs to another visitor", "cart_token")
    cart, _ = apply_cart(visitor.site, token, clean, "widget", visitor)
    return cart


def record_store_cart(site: Site, cart_token: str, clean: dict, source: str, visitor: Visitor | None = None,
                      extra: dict | None = None) -> tuple[Cart, bool]:
    """A cart from the store (API or webhook): it wins over the widget's; returns (cart, created).

    `extra` may set the contact fields the store knows (email, phone,
    consent_email, consent_sms, recovery_url, external_id). A cart that
    arrives after its order (webhooks come in any order) is closed at once.
    """
    from .orders import join_late_order

    with transaction.atomic():
        created = not Cart.objects.filter(site=site, cart_token=cart_token).exists()
        cart, _ = apply_cart(site, cart_token, clean, source, visitor, extra)
        cart = Cart.objects.select_for_update(of=("self",)).select_related("visitor", "site").get(pk=cart.pk)
        if join_late_order(cart):
            _after_cart_change(cart)
    return cart, created


def _cart_changed_hooks(cart: Cart) -> None:
    """Rules that watch carts (server-side interventions) look at the new state."""
    if cart.visitor_id:
        from .interventions import check_server_rules

        check_server_rules(cart.visitor)
