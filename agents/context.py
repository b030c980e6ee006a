"""What the console shows beside a conversation: the shopper's journey, pages, history and signals.

The rules are plain functions over rows fetched once (`fetch_history`), so
that tests can call them with unsaved model instances and a fixed `now`.
Signals are short plain-language sentences an agent can act on, e.g.
"Shipping cost $7.50 shown 3 min ago, idle since". Each carries a
`template` in which `{ago}` stands for the time since `at`, so a page can
keep the wording fresh without asking again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from chatdesk.models import CHECKOUT_STEP_ORDER, CLOSE_REASONS, Cart, CartEvent, Conversation, Order, PageView, Visitor
from chatdesk.serialize import agent_ref, cart_dict, iso, money

# A shopper who has done nothing for this long counts as idle.
IDLE_AFTER = timedelta(minutes=2)
# Past this long at one checkout step the time itself is worth telling.
LONG_AT_STEP = timedelta(minutes=5)
# Two records of the same step this close together are one visit (page view and cart frame).
SAME_VISIT = timedelta(seconds=2)
RECENT_BROWSING = timedelta(minutes=30)
PAGE_LIMIT = 30
HISTORY_LIMIT = 10
# Pages whose address or title says the shopper is checking a policy or cost.
POLICY_PAGES = [
    (re.compile(r"return|refund|exchange", re.I), "the returns policy"),
    (re.compile(r"shipping|delivery", re.I), "shipping information"),
    (re.compile(r"size|fit", re.I), "the size guide"),
    (re.compile(r"faq|help|contact-us|contact us", re.I), "the help pages"),
    (re.compile(r"secur|privacy|payment-methods", re.I), "payment security"),
]
CHECKOUT_PAGE = re.compile(r"checkout|/cart", re.I)
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def format_money(amount, currency: str) -> str:
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{value}" if sign else f"{value} {currency}"


def format_duration(seconds: float) -> str:
    """Plain-language length of time: "40 s", "3 min", "1 h 5 min", "2 days"."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return "1 day" if days == 1 else f"{days} days"


def format_ago(at: datetime, now: datetime) -> str:
    seconds = (now - at).total_seconds()
    if seconds < 45:
        return "just now"
    return f"{format_duration(seconds)} ago"


# --- the journey through checkout -------------------------------------------------

def journey(cart_started_at: datetime | None, step_events: list, page_views: list, now: datetime) -> list[dict]:
    """The checkout steps in the order visited, with the time spent at each.

    `step_events` are `step_changed` cart events (data `{from, to}`) and
    `page_views` any page views carrying a `checkout_step`; both tell of the
    same moves, so a step reported twice within SAME_VISIT is one visit.
    The last entry is the current step and its time runs until `now`.
    """
    moves: list[tuple[datetime, str]] = []
    ordered_events = sorted(step_events, key=lambda e: e.created_at)
    if ordered_events and cart_started_at is not None:
        first_from = (ordered_events[0].data or {}).get("from")
        if first_from and first_from in CHECKOUT_STEP_ORDER and cart_started_at < ordered_events[0].created_at:
            moves.append((cart_started_at, first_from))
    elif cart_started_at is not None and not ordered_events:
        moves.append((cart_started_at, "cart"))
    for event in ordered_events:
        step = (event.data or {}).get("to")
        if step in CHECKOUT_STEP_ORDER:
            moves.append((event.created_at, step))
    for view in page_views:
        if view.checkout_step in CHECKOUT_STEP_ORDER:
            moves.append((view.created_at, view.checkout_step))
    moves.sort(key=lambda m: m[0])

    visits: list[list] = []  # [step, entered_at]
    for at, step in moves:
        if visits and visits[-1][0] == step:
            continue  # still at the same step
        if visits and any(v[0] == step and at - v[1] <= SAME_VISIT for v in visits[-2:]):
            continue  # the other source reporting a move already counted
        visits.append([step, at])

    out = []
    for i, (step, entered) in enumerate(visits):
        left = visits[i + 1][1] if i + 1 < len(visits) else None
        previous = visits[i - 1][0] if i else None
        out.append({
            "step": step,
            "entered_at": iso(entered),
            "left_at": iso(left),
            "seconds": int(((left or now) - entered).total_seconds()),
            "current": left is None,
            "went_back": previous is not None and CHECKOUT_STEP_ORDER[step] < CHECKOUT_STEP_ORDER[previous],
            "from": previous,
        })
    return out


def pages_visited(page_views: list, now: datetime, limit: int = PAGE_LIMIT) -> list[dict]:
    """The latest pages first, with how long the shopper stayed on each (until the next page)."""
    views = sorted(page_views, key=lambda v: v.created_at)
    out = []
    for i, view in enumerate(views):
        until = views[i + 1].created_at if i + 1 < len(views) else None
        out.append({
            "url": view.url,
            "title": view.title or view.url,
            "checkout_step": view.checkout_step or None,
            "at": iso(view.created_at),
            "seconds": int(((until or now) - view.created_at).total_seconds()),
        })
    return list(reversed(out))[:limit]


# --- signals ---------------------------------------------------------------------

def _signal(code: str, template: str, at: datetime, now: datetime, tone: str = "warning") -> dict:
    return {"code": code, "text": template.replace("{ago}", format_ago(at, now)), "template": template,
            "at": iso(at), "tone": tone}


def last_activity(cart: Cart | None, events: list, page_views: list) -> datetime | None:
    """The shopper's latest sign of life among the cart and the pages."""
    times = [e.created_at for e in events] + [v.created_at for v in page_views]
    if cart is not None and cart.last_activity_at:
        times.append(cart.last_activity_at)
    return max(times) if times else None


def signals(cart: Cart | None, events: list, page_views: list, steps: list[dict], now: datetime) -> list[dict]:
    """Plain-language observations from the cart history and the pages, most recent first."""
    out: list[dict] = []
    currency = cart.currency if cart is not None else "USD"
    events = sorted(events, key=lambda e: e.created_at)
    active_at = last_activity(cart, events, page_views)
    idle = active_at is not None and now - active_at >= IDLE_AFTER
    told_idle = False

    shown = [e for e in events if e.kind == CartEvent.SHIPPING_SHOWN]
    if shown:
        event = shown[-1]
        amount = (event.data or {}).get("shipping")
        cost = f"Shipping cost {format_money(amount, currency)}" if amount else "Shipping cost"
        # "Idle since" only when nothing at all happened after the cost appeared.
        quiet_since = idle and active_at <= event.created_at + SAME_VISIT
        told_idle = quiet_since
        out.append(_signal("shipping_shown", f"{cost} shown {{ago}}" + (", idle since" if quiet_since else ""),
                           event.created_at, now))

    for step in steps:
        if step["went_back"]:
            at = datetime.fromisoformat(step["entered_at"].replace("Z", "+00:00"))
            out.append(_signal("went_back", f"Went back from {step['from']} to {step['step']} {{ago}}", at, now))

    reached: dict[str, int] = {}
    for step in steps:
        reached[step["step"]] = reached.get(step["step"], 0) + 1
    for name in ("payment", "review"):
        if reached.get(name, 0) >= 2:
            last = [s for s in steps if s["step"] == name][-1]
            at = datetime.fromisoformat(last["entered_at"].replace("Z", "+00:00"))
            out.append(_signal("step_repeated", f"Reached {name} {reached[name]} times (last {{ago}})", at, now))

    for event in events:
        data = event.data or {}
        if event.kind == CartEvent.ITEM_REMOVED:
            name = data.get("name") or data.get("sku") or "an item"
            out.append(_signal("item_removed", f"Removed {name} from the cart {{ago}}", event.created_at, now))
        elif event.kind == CartEvent.QUANTITY_CHANGED and isinstance(data.get("from"), int) \
                and isinstance(data.get("to"), int) and data["to"] < data["from"]:
            name = _item_name(cart, data.get("sku"))
            out.append(_signal("quantity_lowered", f"Lowered {name} from {data['from']} to {data['to']} {{ago}}",
                               event.created_at, now))
        elif event.kind == CartEvent.DISCOUNT_APPLIED and data.get("discount"):
            out.append(_signal("discount_applied",
                               f"Discount of {format_money(data['discount'], currency)} applied {{ago}}",
                               event.created_at, now, tone="positive"))

    seen_topics = set()
    for view in sorted(page_views, key=lambda v: v.created_at, reverse=True):
        if view.checkout_step or CHECKOUT_PAGE.search(view.url or ""):
            continue  # the checkout's own "Shipping" step is not reading about shipping
        for pattern, topic in POLICY_PAGES:
            if topic not in seen_topics and (pattern.search(view.url or "") or pattern.search(view.title or "")):
                seen_topics.add(topic)
                out.append(_signal("read_policy", f"Read {topic} {{ago}}", view.created_at, now, tone="info"))

    current = steps[-1] if steps else None
    if idle and not told_idle:
        where = f" at {current['step']}" if current else ""
        out.append(_signal("idle", f"Idle{where} since {{ago}}", active_at, now))
    elif current and current["seconds"] >= LONG_AT_STEP.total_seconds() and current["step"] != "complete":
        at = datetime.fromisoformat(current["entered_at"].replace("Z", "+00:00"))
        out.append(_signal("long_at_step", f"At {current['step']} since {{ago}}", at, now, tone="info"))

    out.sort(key=lambda s: s["at"], reverse=True)
    return out


def _item_name(cart: Cart | None, sku: str | None) -> str:
    for item in (cart.items if cart is not None else []) or []:
        if item.get("sku") == sku and item.get("name"):
            return item["name"]
    return sku or "an item"


# --- fetching once, then building ----------------------------------------------------

@dataclass
class VisitorHistory:
    """Everything the context panel needs, fetched in a handful of queries."""

    visitor: Visitor
    conversation_id: int | None
    cart: Cart | None
    cart_events: list = field(default_factory=list)
    page_views: list = field(default_factory=list)
    conversations: list = field(default_factory=list)
    orders: list = field(default_factory=list)


def fetch_history(visitor: Visitor, cart: Cart | None, conversation_id: int | None = None) -> VisitorHistory:
    page_views = list(visitor.page_views.order_by("-created_at")[:200])
    page_views.reverse()
    return VisitorHistory(
        visitor=visitor,
        conversation_id=conversation_id,
        cart=cart,
        cart_events=list(cart.events.order_by("created_at", "id")) if cart is not None else [],
        page_views=page_views,
        conversations=list(
            Conversation.objects.filter(visitor=visitor).exclude(pk=conversation_id)
            .select_related("agent__agent_profile").order_by("-created_at")[:HISTORY_LIMIT]
        ),
        orders=list(Order.objects.filter(visitor=visitor).prefetch_related("lines").order_by("-created_at")[:HISTORY_LIMIT]),
    )


def build_context(history: VisitorHistory, now: datetime | None = None) -> dict:
    """The `context` a console shows for one conversation (see docs/protocol.md)."""
    now = now or timezone.now()
    cart, visitor = history.cart, history.visitor
    step_events = [e for e in history.cart_events if e.kind == CartEvent.STEP_CHANGED]
    # Page views before the cart existed belong to browsing, not to this checkout.
    since = cart.created_at if cart is not None else None
    checkout_views = [v for v in history.page_views if since is None or v.created_at >= since - SAME_VISIT]
    # Policy pages read shortly before the cart was made still explain its fate.
    recent_views = [v for v in history.page_views if since is None or v.created_at >= since - RECENT_BROWSING]
    steps = journey(since, step_events, checkout_views, now) if cart is not None or checkout_views else []
    return {
        "visitor": {
            "id": str(visitor.public_id),
            "name": visitor.display_name,
            "email": visitor.email or None,
            "phone": visitor.phone or None,
            "identified": visitor.identified,
            "first_seen_at": iso(visitor.created_at),
            "current_url": visitor.current_url or None,
            "current_title": visitor.current_title or None,
            "online": visitor.connected_sockets > 0,
        },
        "cart": cart_dict(cart),
        "journey": steps,
        "pages": pages_visited(history.page_views, now),
        "signals": signals(cart, history.cart_events, recent_views, steps, now),
        "previous_conversations": [_previous(c) for c in history.conversations],
        "orders": [_order(o) for o in history.orders],
        "last_activity_at": iso(last_activity(cart, history.cart_events, history.page_views)),
    }


def _previous(c: Conversation) -> dict:
    return {
        "id": c.id,
        "status": c.status,
        "created_at": iso(c.created_at),
        "closed_at": iso(c.closed_at),
        "agent": agent_ref(c.agent),
        "close_reason": c.close_reason or None,
        "close_reason_label": CLOSE_REASONS.get(c.close_reason, (None,))[0] if c.close_reason else None,
        "rating": c.rating,
        "messages": c.last_seq,
    }


def _order(o: Order) -> dict:
    lines = list(o.lines.all())
    return {
        "order_id": o.order_id,
        "total": money(o.total),
        "currency": o.currency,
        "created_at": iso(o.created_at),
        "items": sum(line.quantity for line in lines),
        "attributed": o.conversation_id is not None,
    }


def conversation_context(conv: Conversation, now: datetime | None = None) -> dict:
    """The context of a loaded conversation (its cart, or the visitor's current one)."""
    from chatdesk.actions.carts import current_cart

    cart = conv.cart if conv.cart_id else current_cart(conv.visitor)
    return build_context(fetch_history(conv.visitor, cart, conv.id), now)
