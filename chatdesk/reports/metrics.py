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

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Sum

from ..models import (
    CHECKOUT_STEPS, CLOSE_REASONS, Cart, CartEvent, Conversation, FollowUp, InterventionAssignment, Offer, Order,
)
from .scope import Scope
from .sql import Epoch, PlusHours, analytic, percentiles

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


def _window_hours():
    return F("site__attribution_window_hours")


def any_exists(*querysets) -> Q:
    """EXISTS (a) OR EXISTS (b) ...: one OR inside a subquery would stop it using an index."""
    q = Q()
    for qs in querysets:
        q |= Q(Exists(qs))
    return q


def flag(condition: Q) -> ExpressionWrapper:
    """A condition as a selectable boolean, so an aggregate can count rows where it holds."""
    return ExpressionWrapper(condition, output_field=BooleanField())


def visitor_orders(visitor_ref) -> list:
    """Orders of a visitor (METRICS.md): by the order's visitor, or by a cart linked to that visitor."""
    return [Order.objects.filter(visitor=visitor_ref), Order.objects.filter(cart__visitor=visitor_ref)]


# --- service ----------------------------------------------------------------

def service_figures(scope: Scope) -> dict:
    convs = conversations_in(scope)
    row = convs.aggregate(
        conversations=Count("pk"),
        missed=Count("pk", filter=Q(status=Conversation.MISSED)),
        # Stored when a conversation stops waiting (chatdesk.actions.conversations._leave_queue; docs/routing.md).
        over_target=Count("pk", filter=Q(over_target=True)),
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
        # Conversations that waited longer than their site's target wait (at some point), and their share.
        "over_target": row["over_target"],
        "over_target_rate": ratio(row["over_target"], row["conversations"]),
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
    carts = carts.annotate(window_end=PlusHours("created_at", _window_hours()))
    visitor_chats = Conversation.objects.filter(
        visitor=OuterRef("visitor"), created_at__gte=OuterRef("created_at"), created_at__lte=OuterRef("window_end"))
    return carts.filter(~Exists(Conversation.objects.filter(cart=OuterRef("pk"))), ~Exists(visitor_chats))


def baseline_figures(scope: Scope) -> dict:
    carts = baseline_carts(scope)
    ordered_in_window = Order.objects.filter(
        cart=OuterRef("pk"), created_at__gte=OuterRef("created_at"), created_at__lte=OuterRef("window_end"))
    # The column test first: PostgreSQL skips the order lookup for carts already known to be ordered in time.
    carts = carts.annotate(is_ordered=flag(Q(ordered_at__lte=F("window_end")) | Q(Exists(ordered_in_window))))
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

def abandonments(scope: Scope) -> list:
    """The carts abandoned in the range (at or past `contact`), one row per cart, as two querysets.

    The abandonment task records an `abandoned` CartEvent and sets
    Cart.abandoned_at; the event is the lasting record (a shopper coming back
    clears abandoned_at). So: each cart's first `abandoned` event in the
    range, plus carts with abandoned_at in the range and no such event. Both
    querysets carry the same plain-column annotations, `a_cart`, `a_visitor`,
    `a_t` (when it was abandoned) and `window_h`, so that the contact and
    recovery subqueries compare columns, never a repeated subquery.
    `a_visitor` is always the abandoned cart's own visitor (recovered_filter
    relies on it).
    """
    events = CartEvent.objects.filter(kind=CartEvent.ABANDONED, created_at__gte=scope.start, created_at__lt=scope.end)
    earlier = events.filter(cart=OuterRef("cart")).filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))
    first_events = events.filter(~Exists(earlier), cart__max_step_reached__in=CONTACT_OR_LATER)
    carts = Cart.objects.filter(max_step_reached__in=CONTACT_OR_LATER, abandoned_at__gte=scope.start,
                                abandoned_at__lt=scope.end).filter(~Exists(events.filter(cart=OuterRef("pk"))))
    if scope.site is not None:
        first_events = first_events.filter(cart__site=scope.site)
        carts = carts.filter(site=scope.site)
    return [
        first_events.annotate(a_cart=F("cart_id"), a_visitor=F("cart__visitor_id"), a_t=F("created_at"),
                              window_h=F("cart__site__attribution_window_hours")),
        carts.annotate(a_cart=F("pk"), a_visitor=F("visitor_id"), a_t=F("abandoned_at"), window_h=_window_hours()),
    ]


def _contact_conversations(scope: Scope):
    convs = Conversation.objects.filter(engaged_filter())
    if scope.agent is not None:
        convs = convs.filter(agent=scope.agent)
    return convs


def contacted_filter(scope: Scope) -> Q:
    """An abandonment that an agent conversation (or, without an agent filter, a sent follow-up) reached afterwards."""
    after = _contact_conversations(scope).filter(created_at__gte=OuterRef("a_t"))
    contacts = [after.filter(visitor=OuterRef("a_visitor")), after.filter(cart=OuterRef("a_cart"))]
    if scope.agent is None:
        # First: most contacted carts got a follow-up, and PostgreSQL stops at the first EXISTS that holds.
        contacts.insert(0, FollowUp.objects.filter(cart=OuterRef("a_cart"), sent_at__gte=OuterRef("a_t")))
    return any_exists(*contacts)


def recovered_filter(scope: Scope) -> Q:
    """An abandonment whose visitor ordered within the window after a contact that came after the abandonment."""
    # Inside the order subquery: OuterRef = the order, OuterRef(OuterRef) = the abandonment.
    def abandonment(name):
        return OuterRef(OuterRef(name))

    before_order = _contact_conversations(scope).filter(
        created_at__gte=abandonment("a_t"), created_at__lte=OuterRef("created_at"),
        first_agent_message_at__lte=OuterRef("created_at"),
    ).alias(window_end=PlusHours("created_at", abandonment("window_h"))).filter(window_end__gte=OuterRef("created_at"))
    contacts = [before_order.filter(visitor=abandonment("a_visitor")), before_order.filter(cart=abandonment("a_cart"))]
    if scope.agent is None:
        contacts.append(
            FollowUp.objects.filter(cart=abandonment("a_cart"), sent_at__gte=abandonment("a_t"),
                                    sent_at__lte=OuterRef("created_at"))
            .alias(window_end=PlusHours("sent_at", abandonment("window_h"))).filter(window_end__gte=OuterRef("created_at"))
        )
    contact = any_exists(*contacts)
    by_visitor, by_visitors_carts = (qs.filter(created_at__gte=OuterRef("a_t")).filter(contact)
                                     for qs in visitor_orders(OuterRef("a_visitor")))
    by_cart = Order.objects.filter(cart=OuterRef("a_cart"), created_at__gte=OuterRef("a_t")).filter(contact)
    # The cart's own orders are among its visitor's carts' orders (a_visitor is that cart's visitor), so they
    # need a look of their own only when the cart has no visitor: one index probe less per abandonment.
    return Q(Exists(by_visitor)) | Q(Exists(by_visitors_carts)) | (Q(a_visitor__isnull=True) & Q(Exists(by_cart)))


def recovery_figures(scope: Scope) -> dict:
    total = {"abandoned": 0, "contacted": 0, "recovered": 0}
    for rows in abandonments(scope):
        rows = rows.annotate(is_contacted=flag(contacted_filter(scope)), is_recovered=flag(recovered_filter(scope)))
        row = rows.aggregate(
            abandoned=Count("pk"),
            contacted=Count("pk", filter=Q(is_contacted=True)),
            recovered=Count("pk", filter=Q(is_recovered=True)),
        )
        for key in total:
            total[key] += row[key]
    return {
        "abandoned_carts": total["abandoned"],
        "recovered_carts": total["recovered"],
        "recovery_rate": ratio(total["recovered"], total["contacted"]),
        "contacted_carts": total["contacted"],
        "recovery_rate_all": ratio(total["recovered"], total["abandoned"]),
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
    assignments = assignments.annotate(window_end=PlusHours("assigned_at", _window_hours()))
    ordered = any_exists(*(
        qs.filter(created_at__gte=OuterRef("assigned_at"), created_at__lte=OuterRef("window_end"))
        for qs in visitor_orders(OuterRef("visitor"))
    ))
    treatment, holdout = Q(arm=InterventionAssignment.TREATMENT), Q(arm=InterventionAssignment.HOLDOUT)
    assignments = assignments.annotate(is_converted=flag(ordered))
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


@analytic
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
