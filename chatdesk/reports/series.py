"""Chart and table data for /reports/: figures over time, distributions, reasons, offers, agents.

Like metrics.py, every number is an SQL aggregate (GROUP BY day, kind,
agent...); Python only shapes the few grouped rows into lists and fills in
days without data.
"""
from __future__ import annotations

from datetime import date, timedelta

from django.db import connections
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncWeek

from agents.models import AgentProfile

from ..models import CLOSE_REASONS, OFFER_KINDS, Conversation, Offer
from .metrics import (
    FIRST_RESPONSE, WAIT, attributed_filter, conversations_in, converted_filter, engaged_filter, money,
    offers_in, orders_in, ratio, seconds,
)
from .scope import Scope
from .sql import PercentileCont, analytic, percentiles

WEEKLY_AFTER_DAYS = 92  # beyond about a quarter, one bar a day is too thin to read
# Distribution buckets in seconds: [low, high) with None as "and over".
BUCKETS = [(0, 15), (15, 30), (30, 60), (60, 120), (120, 300), (300, 600), (600, None)]
OFFER_STATUSES = [Offer.ACCEPTED, Offer.DECLINED, Offer.EXPIRED, Offer.PROPOSED]


def bucket_label(low: int, high: int | None) -> str:
    def fmt(s):
        return f"{s}s" if s < 60 else f"{s // 60}m"
    return f"{fmt(low)}+" if high is None else f"{fmt(low)}–{fmt(high)}"


def granularity(scope: Scope) -> str:
    return "week" if len(scope.days) > WEEKLY_AFTER_DAYS else "day"


def _periods(scope: Scope, unit: str) -> list[date]:
    if unit == "day":
        return scope.days
    first = scope.first_day - timedelta(days=scope.first_day.weekday())
    return [first + timedelta(weeks=i) for i in range((scope.last_day - first).days // 7 + 1)]


def _trunc(field: str, unit: str):
    return TruncDate(field) if unit == "day" else TruncDate(TruncWeek(field))


def _as_date(value) -> date:
    # TruncDate gives a date; SQLite may hand back the ISO string.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def over_time(scope: Scope) -> dict:
    """Per day (or week): conversations, engaged, converted, missed, chat conversion; attributed orders and revenue."""
    unit = granularity(scope)
    conv_rows = (
        conversations_in(scope).annotate(period=_trunc("created_at", unit)).values("period")
        .annotate(conversations=Count("pk"), engaged=Count("pk", filter=engaged_filter()),
                  converted=Count("pk", filter=converted_filter()),
                  missed=Count("pk", filter=Q(status=Conversation.MISSED)))
        .order_by()
    )
    order_rows = (
        orders_in(scope).filter(attributed_filter(scope)).annotate(period=_trunc("created_at", unit)).values("period")
        .annotate(orders=Count("pk"), revenue=Sum("total")).order_by()
    )
    convs = {_as_date(r["period"]): r for r in conv_rows}
    orders = {_as_date(r["period"]): r for r in order_rows}
    points = []
    for period in _periods(scope, unit):
        c = convs.get(period, {})
        o = orders.get(period, {})
        points.append({
            "period": period.isoformat(),
            "conversations": c.get("conversations", 0),
            "engaged": c.get("engaged", 0),
            "converted": c.get("converted", 0),
            "missed": c.get("missed", 0),
            "chat_conversion_rate": ratio(c.get("converted", 0), c.get("engaged", 0)),
            "attributed_orders": o.get("orders", 0),
            "attributed_revenue": money(o.get("revenue")),
        })
    return {"unit": unit, "points": points}


def distribution(queryset, expression) -> list[dict]:
    """How many values fall in each of BUCKETS, in one query."""
    qs = queryset.alias(_seconds=expression)
    counts = {}
    for i, (low, high) in enumerate(BUCKETS):
        cond = Q(_seconds__gte=low) if high is None else Q(_seconds__gte=low, _seconds__lt=high)
        counts[f"b{i}"] = Count("pk", filter=cond)
    row = qs.aggregate(**counts)
    return [{"label": bucket_label(low, high), "low": low, "high": high, "count": row[f"b{i}"]}
            for i, (low, high) in enumerate(BUCKETS)]


def service_distributions(scope: Scope) -> dict:
    convs = conversations_in(scope)
    return {
        "wait": distribution(convs.filter(first_assigned_at__isnull=False), WAIT),
        "first_response": distribution(convs.filter(first_agent_message_at__isnull=False), FIRST_RESPONSE),
    }


def reasons_vs_baymard(scope: Scope, counts: dict[str, int]) -> list[dict]:
    """Each reason's share of the conversations closed with a reason, beside Baymard's share where published.

    Baymard asks shoppers who abandoned to pick every reason that applied,
    so its shares add up to more than 100%; ours are one reason per
    conversation and add up to 100%. The bars compare ranks, not levels.
    """
    total = sum(counts.values())
    rows = []
    for code, count in counts.items():
        label, baymard = CLOSE_REASONS.get(code, (code.replace("_", " "), None))
        rows.append({"code": code, "label": label, "count": count, "share": ratio(count, total),
                     "baymard_share": None if baymard is None else baymard / 100})
    return rows


def offers_by_kind(scope: Scope) -> list[dict]:
    grouped = offers_in(scope).values("kind", "status").annotate(n=Count("pk")).order_by()
    table = {kind: {status: 0 for status in OFFER_STATUSES} for kind in OFFER_KINDS}
    for row in grouped:
        table.setdefault(row["kind"], {status: 0 for status in OFFER_STATUSES})[row["status"]] = row["n"]
    out = []
    for kind, statuses in table.items():
        made = sum(statuses.values())
        out.append({"kind": kind, **statuses, "made": made,
                    "acceptance_rate": ratio(statuses[Offer.ACCEPTED], made)})
    return out


def _grouped_medians(queryset, expression, group: str) -> dict:
    """Median of `expression` per value of `group`: one GROUP BY on PostgreSQL, one small query per group elsewhere."""
    if connections[queryset.db].vendor == "postgresql":
        rows = queryset.values(group).annotate(p50=PercentileCont(0.5, expression)).order_by()
        return {r[group]: r["p50"] for r in rows}
    groups = queryset.values_list(group, flat=True).distinct().order_by()
    return {g: percentiles(queryset.filter(**{group: g}), expression, [0.5])[0] for g in groups}


def agents_table(scope: Scope) -> list[dict]:
    """One row per agent who had conversations or made offers in scope."""
    convs = conversations_in(scope).filter(agent__isnull=False)
    conv_rows = {
        r["agent"]: r for r in convs.values("agent").annotate(
            conversations=Count("pk"), engaged=Count("pk", filter=engaged_filter()),
            converted=Count("pk", filter=converted_filter()),
            closed=Count("pk", filter=Q(status=Conversation.CLOSED)),
            ratings=Count("pk", filter=Q(rating__isnull=False)), satisfied=Count("pk", filter=Q(rating__gte=4)),
        ).order_by()
    }
    waits = _grouped_medians(convs.filter(first_assigned_at__isnull=False), WAIT, "agent")
    responses = _grouped_medians(convs.filter(first_agent_message_at__isnull=False), FIRST_RESPONSE, "agent")
    offer_rows = {
        r["agent"]: r for r in offers_in(scope).filter(agent__isnull=False).values("agent")
        .annotate(made=Count("pk"), accepted=Count("pk", filter=Q(status=Offer.ACCEPTED))).order_by()
    }
    order_rows = {
        r["conversation__agent"]: r for r in orders_in(scope).filter(attributed_filter(scope))
        .values("conversation__agent").annotate(orders=Count("pk"), revenue=Sum("total"), offer_revenue=Sum("offer_revenue"))
        .order_by()
    }
    ids = set(conv_rows) | set(offer_rows) | set(order_rows)
    ids.discard(None)
    profiles = {p.user_id: p for p in AgentProfile.objects.filter(user_id__in=ids).select_related("user")}
    rows = []
    for user_id in ids:
        c, f, o = conv_rows.get(user_id, {}), offer_rows.get(user_id, {}), order_rows.get(user_id, {})
        profile = profiles.get(user_id)
        rows.append({
            "username": profile.user.get_username() if profile else str(user_id),
            "name": profile.display_name if profile else str(user_id),
            "conversations": c.get("conversations", 0),
            "wait_p50_s": seconds(waits.get(user_id)),
            "first_response_p50_s": seconds(responses.get(user_id)),
            "csat": ratio(c.get("satisfied", 0), c.get("ratings", 0)),
            "chat_conversion_rate": ratio(c.get("converted", 0), c.get("engaged", 0)),
            "offers_made": f.get("made", 0),
            "offer_acceptance_rate": ratio(f.get("accepted", 0), f.get("made", 0)),
            "attributed_orders": o.get("orders", 0),
            "attributed_revenue": money(o.get("revenue")),
            "offer_revenue": money(o.get("offer_revenue")),
        })
    rows.sort(key=lambda r: (-r["conversations"], r["name"]))
    return rows


def load_over_time(scope: Scope) -> dict:
    """Concurrent load, read as conversations taken per agent who took any, per day (or week)."""
    unit = granularity(scope)
    rows = (
        conversations_in(scope).filter(first_assigned_at__isnull=False, agent__isnull=False)
        .annotate(period=_trunc("created_at", unit)).values("period")
        .annotate(taken=Count("pk"), agents=Count("agent", distinct=True)).order_by()
    )
    by_period = {_as_date(r["period"]): r for r in rows}
    points = []
    for period in _periods(scope, unit):
        r = by_period.get(period, {})
        taken, agents = r.get("taken", 0), r.get("agents", 0)
        points.append({"period": period.isoformat(), "taken": taken, "agents": agents,
                       "per_agent": None if not agents else round(taken / agents, 2)})
    return {"unit": unit, "points": points}


@analytic
def all_series(scope: Scope, summary: dict) -> dict:
    """Everything the page draws, from one scope; `summary` is metrics.summary(scope), reused."""
    return {
        "over_time": over_time(scope),
        "distributions": service_distributions(scope),
        "reasons": reasons_vs_baymard(scope, summary["abandonment_reasons"]),
        "offers": offers_by_kind(scope),
        "agents": agents_table(scope),
        "load": load_over_time(scope),
        "intervention": summary["intervention"],
    }
