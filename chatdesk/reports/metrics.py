"""Every key of METRICS.md "The summary's keys", computed over a Scope by SQL aggregation.

Each function reads stored fields (Conversation timestamps, Order.conversation
set by attribution, Cart abandonment, InterventionAssignment) and returns
counts, sums and percentiles computed by the database: no Python loop ever
walks the rows. Conventions (docs/reports.md): rates are floats in 0..1
rounded to 4 places, durations are seconds rounded to 0.1, money is a decimal
string; a rate or percentile with nothing to compute is None (JSON null),
while a count or a sum over nothing is 0 / "0.00".
"""
from __future__ import annotations

import math
from decimal import Decimal

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from ..models import (
    CHECKOUT_STEPS, CLOSE_REASONS, Cart, CartEvent, Conversation, FollowUp, InterventionAssignment, Offer, Order,
)
from .scope import Scope
from .sql import Epoch, percentiles

RATE_PLACES = 4
Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
CONTACT_OR_LATER = CHECKOUT_STEPS[CHECKOUT_STEPS.index("contact"):]
ZERO = Decimal("0.00")

# Durations measured from when the conversation was opened (it entered the
# queue then); `queued_at` is not used because a transfer back to the queue moves it.
WAIT = Epoch("first_assigned_at") - Epoch("created_at")
FIRST_RESPONSE = Epoch("first_agent_message_at") - Epoch("created_at")


def ratio(numerator, denominator) -> float | None:
    """A rate in 0..1 (or any ratio), None when the denominator is zero or missing."""
    if not denominator:
        return None
    return round(float(numerator) / float(denominator), RATE_PLACES)


def money(value) -> str:
    return f"{(value if value is not None else ZERO):.2f}"


def seconds(value) -> float | None:
    return None if value is None else round(float(value), 1)


# --- what is in scope -------------------------------------------------------

def conversations_in(scope: Scope):
    """Conversations opened in the range, of the site and (last) agent in scope."""
    qs = Conversation.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.site is not None:
        qs = qs.filter(site=scope.site)
    if scope.agent is not None:
        qs = qs.filter(agent=scope.agent)
    return qs


def orders_in(scope: Scope):
    """Orders placed in the range on the site in scope (attributed or not; the agent filter is applied by callers)."""
    qs = Order.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.site is not None:
        qs = qs.filter(site=scope.site)
    return qs


def attributed_filter(scope: Scope) -> Q:
    q = Q(conversation__isnull=False)
    if scope.agent is not None:
        q &= Q(conversation__agent=scope.agent)
    return q


def offers_in(scope: Scope):
    """Offers made in the range, in conversations of the site, by the agent in scope."""
    qs = Offer.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.site is not None:
        qs = qs.filter(conversation__site=scope.site)
    if scope.agent is not None:
        qs = qs.filter(agent=scope.agent)
    return qs


def engaged_filter() -> Q:
    """A conversation with at least one agent message (notes and system lines do not count)."""
    return Q(first_agent_message_at__isnull=False)


def converted_filter() -> Q:
    """An engaged conversation to which at least one order has been attributed."""
    return engaged_filter() & Q(Exists(Order.objects.filter(conversation=OuterRef("pk"))))


def _window_seconds():
    return F("site__attribution_window_hours") * 3600


def flag(condition: Q) -> ExpressionWrapper:
    """A condition as a selectable boolean, so an aggregate can count rows where it holds."""
    return ExpressionWrapper(condition, output_field=BooleanField())


def _visitor_orders(visitor_ref):
    """Orders of a visitor: by the order's visitor or by a cart linked to that visitor (METRICS.md)."""
    return Order.objects.filter(Q(visitor=visitor_ref) | Q(cart__visitor=visitor_ref))


# --- service ----------------------------------------------------------------

def service_figures(scope: Scope) -> dict:
    convs = conversations_in(scope)
    row = convs.aggregate(
        conversations=Count("pk"),
        missed=Count("pk", filter=Q(status=Conversation.MISSED)),
        closed=Count("pk", filter=Q(status=Conversation.CLOSED)),
        rated_closed=Count("pk", filter=Q(status=Conversation.CLOSED, rating__isnull=False)),
        ratings=Count("pk", filter=Q(rating__isnull=False)),
        satisfied=Count("pk", filter=Q(rating__gte=4)),
        engaged=Count("pk", filter=engaged_filter()),
        converted=Count("pk", filter=converted_filter()),
    )
    wait = percentiles(convs.filter(first_assigned_at__isnull=False), WAIT, [0.5, 0.9])
    response = percentiles(convs.filter(first_agent_message_at__isnull=False), FIRST_RESPONSE, [0.5, 0.9])
    return {
        "conversations": row["conversations"],
        "missed": row["missed"],
        "missed_rate": ratio(row["missed"], row["conversations"]),
        "wait_p50_s": seconds(wait[0]),
        "wait_p90_s": seconds(wait[1]),
        "first_response_p50_s": seconds(response[0]),
        "first_response_p90_s": seconds(response[1]),
        "csat": ratio(row["satisfied"], row["ratings"]),
        "csat_response_rate": ratio(row["rated_closed"], row["closed"]),
        "chat_conversion_rate": ratio(row["converted"], row["engaged"]),
        # Numerators and denominators, so a reader can check the rates.
        "closed": row["closed"],
        "ratings": row["ratings"],
        "engaged_conversations": row["engaged"],
        "converted_conversations": row["converted"],
    }


# --- value ------------------------------------------------------------------

def baseline_carts(scope: Scope):
    """Carts started in the range that reached `contact` or later with no conversation.

    "No conversation": none is linked to the cart, and its visitor opened
    none within the attribution window after the cart started (the span over
    which the cart's own conversion is observed).
    """
    carts = Cart.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end,
                                max_step_reached__in=CONTACT_OR_LATER)
    if scope.site is not None:
        carts = carts.filter(site=scope.site)
    carts = carts.annotate(window_s=_window_seconds())
    visitor_chats = (
        Conversation.objects.filter(visitor=OuterRef("visitor"), created_at__gte=OuterRef("created_at"))
        .alias(lag=Epoch("created_at") - Epoch(OuterRef("created_at")))
        .filter(lag__lte=OuterRef("window_s"))
    )
    return carts.filter(~Exists(Conversation.objects.filter(cart=OuterRef("pk"))), ~Exists(visitor_chats))


def baseline_figures(scope: Scope) -> dict:
    carts = baseline_carts(scope)
    ordered_in_window = (
        Order.objects.filter(cart=OuterRef("pk"), created_at__gte=OuterRef("created_at"))
        .alias(lag=Epoch("created_at") - Epoch(OuterRef("created_at")))
        .filter(lag__lte=OuterRef("window_s"))
    )
    carts = carts.annotate(ordered_lag=Epoch("ordered_at") - Epoch("created_at"))
    carts = carts.annotate(is_ordered=flag(Q(Exists(ordered_in_window)) | Q(ordered_lag__lte=F("window_s"))))
    row = carts.aggregate(carts=Count("pk"), ordered=Count("pk", filter=Q(is_ordered=True)))
    return {
        "baseline_conversion_rate": ratio(row["ordered"], row["carts"]),
        "baseline_carts": row["carts"],
        "baseline_orders": row["ordered"],
    }


def order_figures(scope: Scope) -> dict:
    attributed = attributed_filter(scope)
    unattributed = Q(conversation__isnull=True)
    row = orders_in(scope).aggregate(
        attributed_orders=Count("pk", filter=attributed),
        attributed_revenue=Sum("total", filter=attributed),
        offer_revenue=Sum("offer_revenue", filter=attributed),
        other_orders=Count("pk", filter=unattributed),
        other_revenue=Sum("total", filter=unattributed),
    )
    uplift = None
    if row["attributed_orders"] and row["other_orders"] and row["other_revenue"]:
        chat_aov = row["attributed_revenue"] / row["attributed_orders"]
        other_aov = row["other_revenue"] / row["other_orders"]
        uplift = round(float(chat_aov / other_aov - 1), RATE_PLACES)
    return {
        "attributed_orders": row["attributed_orders"],
        "attributed_revenue": money(row["attributed_revenue"]),
        "aov_uplift": uplift,
        "offer_revenue": money(row["offer_revenue"]),
        "unattributed_orders": row["other_orders"],
        "unattributed_revenue": money(row["other_revenue"]),
    }


def offer_figures(scope: Scope) -> dict:
    row = offers_in(scope).aggregate(
        made=Count("pk"), accepted=Count("pk", filter=Q(status=Offer.ACCEPTED)),
    )
    return {
        "offers_made": row["made"],
        "offers_accepted": row["accepted"],
        "offer_acceptance_rate": ratio(row["accepted"], row["made"]),
    }


# --- abandonment and recovery --------------------------------------------------

def abandoned_carts(scope: Scope):
    """Carts abandoned in the range (at or past `contact`), annotated with `abandoned_t`, the time it happened.

    The abandonment task records an `abandoned` CartEvent and sets
    Cart.abandoned_at; the event is the lasting record (a shopper coming
    back clears abandoned_at), so its first time in the range is used, and
    abandoned_at only for a cart without such an event. A cart counts once.
    """
    events = CartEvent.objects.filter(kind=CartEvent.ABANDONED, created_at__gte=scope.start, created_at__lt=scope.end)
    carts = Cart.objects.filter(max_step_reached__in=CONTACT_OR_LATER).filter(
        Q(pk__in=events.values("cart_id")) | Q(abandoned_at__gte=scope.start, abandoned_at__lt=scope.end)
    )
    if scope.site is not None:
        carts = carts.filter(site=scope.site)
    first_event = events.filter(cart=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    return carts.annotate(abandoned_t=Coalesce(Subquery(first_event), F("abandoned_at")), window_s=_window_seconds())


def _contact_conversations(scope: Scope):
    convs = Conversation.objects.filter(engaged_filter())
    if scope.agent is not None:
        convs = convs.filter(agent=scope.agent)
    return convs


def contacted_filter(scope: Scope) -> Q:
    """An abandoned cart that an agent conversation (or, without an agent filter, a sent follow-up) reached afterwards."""
    convs = _contact_conversations(scope).filter(
        Q(visitor=OuterRef("visitor")) | Q(cart=OuterRef("pk")), created_at__gte=OuterRef("abandoned_t"),
    )
    q = Q(Exists(convs))
    if scope.agent is None:
        q |= Q(Exists(FollowUp.objects.filter(cart=OuterRef("pk"), sent_at__gte=OuterRef("abandoned_t"))))
    return q


def recovered_filter(scope: Scope) -> Q:
    """An abandoned cart whose visitor ordered within the window after a contact that came after the abandonment."""
    # Inside the order subquery: OuterRef = the order, OuterRef(OuterRef) = the cart.
    cart = lambda name: OuterRef(OuterRef(name))  # noqa: E731
    convs = (
        _contact_conversations(scope)
        .filter(Q(visitor=cart("visitor")) | Q(cart=cart("pk")), created_at__gte=cart("abandoned_t"),
                created_at__lte=OuterRef("created_at"), first_agent_message_at__lte=OuterRef("created_at"))
        .alias(lag=Epoch(OuterRef("created_at")) - Epoch("created_at"))
        .filter(lag__lte=cart("window_s"))
    )
    contact = Q(Exists(convs))
    if scope.agent is None:
        followups = (
            FollowUp.objects.filter(cart=cart("pk"), sent_at__gte=cart("abandoned_t"), sent_at__lte=OuterRef("created_at"))
            .alias(lag=Epoch(OuterRef("created_at")) - Epoch("sent_at"))
            .filter(lag__lte=cart("window_s"))
        )
        contact |= Q(Exists(followups))
    orders = (
        Order.objects.filter(Q(cart=OuterRef("pk")) | Q(visitor=OuterRef("visitor")) | Q(cart__visitor=OuterRef("visitor")),
                             created_at__gte=OuterRef("abandoned_t"))
        .filter(contact)
    )
    return Q(Exists(orders))


def recovery_figures(scope: Scope) -> dict:
    carts = abandoned_carts(scope).annotate(
        is_contacted=flag(contacted_filter(scope)), is_recovered=flag(recovered_filter(scope)),
    )
    row = carts.aggregate(
        abandoned=Count("pk"),
        contacted=Count("pk", filter=Q(is_contacted=True)),
        recovered=Count("pk", filter=Q(is_recovered=True)),
    )
    return {
        "abandoned_carts": row["abandoned"],
        "recovered_carts": row["recovered"],
        "recovery_rate": ratio(row["recovered"], row["contacted"]),
        "contacted_carts": row["contacted"],
        "recovery_rate_all": ratio(row["recovered"], row["abandoned"]),
    }


def abandonment_reasons(scope: Scope) -> dict[str, int]:
    """Closed conversations per reason code; every code is present, in CLOSE_REASONS order."""
    counts = dict(
        conversations_in(scope).filter(status=Conversation.CLOSED).exclude(close_reason="")
        .values_list("close_reason").annotate(n=Count("pk")).values_list("close_reason", "n")
    )
    reasons = {code: counts.pop(code, 0) for code in CLOSE_REASONS}
    reasons.update(counts)  # a code no longer offered still shows, rather than vanishing
    return reasons


# --- interventions ---------------------------------------------------------------

def lift_with_ci(t_converted: int, t_total: int, h_converted: int, h_total: int) -> dict:
    """Difference of two proportions with a 95% Wald interval (normal approximation).

    lift = p_t - p_h; se = sqrt(p_t(1-p_t)/n_t + p_h(1-p_h)/n_h);
    CI = lift -/+ 1.96 se. Unreliable when an arm is small or a rate is
    near 0 or 1; the counts are returned beside it so readers can judge.
    """
    p_t = t_converted / t_total if t_total else None
    p_h = h_converted / h_total if h_total else None
    out = {"treatment_rate": ratio(t_converted, t_total), "holdout_rate": ratio(h_converted, h_total),
           "lift": None, "ci_low": None, "ci_high": None}
    if p_t is None or p_h is None:
        return out
    lift = p_t - p_h
    se = math.sqrt(p_t * (1 - p_t) / t_total + p_h * (1 - p_h) / h_total)
    out.update(lift=round(lift, RATE_PLACES), ci_low=round(lift - Z_95 * se, RATE_PLACES),
               ci_high=round(lift + Z_95 * se, RATE_PLACES))
    return out


def intervention_figures(scope: Scope) -> dict:
    """Visitors assigned in the range, per arm, and how many ordered within the window after assignment."""
    assignments = InterventionAssignment.objects.filter(assigned_at__gte=scope.start, assigned_at__lt=scope.end)
    if scope.site is not None:
        assignments = assignments.filter(site=scope.site)
    assignments = assignments.annotate(window_s=_window_seconds())
    ordered = (
        _visitor_orders(OuterRef("visitor")).filter(created_at__gte=OuterRef("assigned_at"))
        .alias(lag=Epoch("created_at") - Epoch(OuterRef("assigned_at")))
        .filter(lag__lte=OuterRef("window_s"))
    )
    treatment, holdout = Q(arm=InterventionAssignment.TREATMENT), Q(arm=InterventionAssignment.HOLDOUT)
    assignments = assignments.annotate(is_converted=flag(Q(Exists(ordered))))
    row = assignments.aggregate(
        treatment=Count("pk", filter=treatment),
        holdout=Count("pk", filter=holdout),
        treatment_converted=Count("pk", filter=treatment & Q(is_converted=True)),
        holdout_converted=Count("pk", filter=holdout & Q(is_converted=True)),
    )
    return {
        "treatment": row["treatment"],
        "holdout": row["holdout"],
        **lift_with_ci(row["treatment_converted"], row["treatment"], row["holdout_converted"], row["holdout"]),
        "treatment_converted": row["treatment_converted"],
        "holdout_converted": row["holdout_converted"],
    }


# --- the summary -----------------------------------------------------------------

SUMMARY_KEYS = [
    "conversations", "missed", "missed_rate", "wait_p50_s", "wait_p90_s", "first_response_p50_s",
    "first_response_p90_s", "csat", "csat_response_rate", "chat_conversion_rate", "baseline_conversion_rate",
    "attributed_orders", "attributed_revenue", "aov_uplift", "offers_made", "offers_accepted",
    "offer_acceptance_rate", "offer_revenue", "abandoned_carts", "recovered_carts", "recovery_rate",
    "abandonment_reasons", "intervention",
]


def scope_currency(scope: Scope) -> str | None:
    """The currency money figures are in: the site's, or the one all sites share; None when sites differ."""
    from ..models import Site

    if scope.site is not None:
        return scope.site.currency
    currencies = list(Site.objects.values_list("currency", flat=True).distinct()[:2])
    return currencies[0] if len(currencies) == 1 else None


def summary(scope: Scope) -> dict:
    """The summary object of `/api/v1/reports/summary/`: METRICS.md's keys first, then supporting counts.

    With an agent in scope, figures that belong to conversations and offers
    are that agent's; `baseline_conversion_rate`, `abandoned_carts` and
    `intervention` have no agent and stay the site's, and recovery counts only
    carts recovered after that agent's conversations.
    """
    figures = {}
    figures.update(service_figures(scope))
    figures.update(baseline_figures(scope))
    figures.update(order_figures(scope))
    figures.update(offer_figures(scope))
    figures.update(recovery_figures(scope))
    figures["abandonment_reasons"] = abandonment_reasons(scope)
    figures["intervention"] = intervention_figures(scope)
    out = {key: figures.pop(key) for key in SUMMARY_KEYS}
    out.update(figures)
    out.update({**{k: v for k, v in scope.as_params().items()}, "currency": scope_currency(scope)})
    out.setdefault("site", None)
    out.setdefault("agent", None)
    return out
