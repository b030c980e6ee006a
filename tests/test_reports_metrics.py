"""The summary's figures over a known history (tests/report_history.py), every key asserted exactly.

The expected values are worked out by hand in the comments; they must hold on
PostgreSQL (percentile_cont) and on SQLite (the portable percentile fallback).
"""
from __future__ import annotations

from datetime import date

import pytest

from chatdesk.models import CLOSE_REASONS
from chatdesk.reports.metrics import SUMMARY_KEYS, lift_with_ci, summary
from chatdesk.reports.scope import Scope, ScopeError, parse_scope

from .report_history import build_history

pytestmark = pytest.mark.django_db

MAY = {"from": "2024-05-01", "to": "2024-05-07"}


def reasons(**counts):
    out = {code: 0 for code in CLOSE_REASONS}
    out.update(counts)
    return out


@pytest.fixture
def history(db):
    return build_history()


def test_every_summary_key_over_the_known_history_all_sites(history):
    got = summary(parse_scope(MAY))
    assert list(got)[:len(SUMMARY_KEYS)] == SUMMARY_KEYS
    expected = {
        # C1..C7 on shop-a and C10 on shop-b; C8 (04-30 23:59:59) and C9 (05-08 00:00) are outside.
        "conversations": 8,
        "missed": 1,                      # C5
        "missed_rate": 0.125,             # 1 / 8
        # waits 10 20 30 40 60 100 200: p50 = 40; p90 at 5.4 -> 100 + 0.4 * 100
        "wait_p50_s": 40.0,
        "wait_p90_s": 140.0,
        # first responses 30 45 60 90 150 240: p50 at 2.5 -> 75; p90 at 4.5 -> 150 + 0.5 * 90
        "first_response_p50_s": 75.0,
        "first_response_p90_s": 195.0,
        "csat": 0.6,                      # ratings 5 3 4 1 5: three of five are 4 or 5
        "csat_response_rate": 0.8333,     # 5 rated of 6 closed (C4 unrated)
        # engaged C1 C2 C3 C4 C7 C10; converted C1 (O1) C2 (O7, placed after the range) C3 (O2) C10 (O3)
        "chat_conversion_rate": 0.6667,
        # baseline carts K1 K2 K3 K6 K10 K12; ordered in window: K1 (O4), K6 (ordered_at, 12 h < 24 h), K10 (O6)
        "baseline_conversion_rate": 0.5,
        "attributed_orders": 3,           # O1 O2 O3 (O7 and O8 are outside the range)
        "attributed_revenue": "240.00",   # 100 + 60 + 80
        "aov_uplift": 1.0,                # (240 / 3) / ((50 + 30 + 40) / 3) - 1
        "offers_made": 5,
        "offers_accepted": 2,
        "offer_acceptance_rate": 0.4,
        "offer_revenue": "35.50",         # 20.00 + 0.00 + 15.50
        "abandoned_carts": 5,             # K2 K8 K9 K10 K12 (K11 before the range, K13 never reached contact)
        "recovered_carts": 2,             # K9 (C3 then O2), K10 (follow-up then O6)
        "recovery_rate": 0.5,             # 2 of the 4 contacted (K8 K9 K10 K12)
        "abandonment_reasons": reasons(extra_costs=2, delivery_slow=1, other=1, card_declined=1, returns_policy=1),
        "intervention": {
            "treatment": 4, "holdout": 3,            # V20 V21 V24 V26 / V22 V25 V3
            "treatment_rate": 0.5,                   # V20 (O4 via its cart), V24 (O6)
            "holdout_rate": 0.3333,                  # V3 (O2); V22 ordered after 96 h > 72 h
            "lift": 0.1667,
            # se = sqrt(.5 * .5 / 4 + (1/3)(2/3) / 3) = 0.36956; 1.95996 * se = 0.72432
            "ci_low": -0.5577, "ci_high": 0.891,
            "treatment_converted": 2, "holdout_converted": 1,
        },
    }
    assert {k: got[k] for k in expected} == expected
    assert {k: got[k] for k in ("closed", "ratings", "engaged_conversations", "converted_conversations",
                                "baseline_carts", "baseline_orders", "unattributed_orders", "unattributed_revenue",
                                "contacted_carts", "recovery_rate_all")} == {
        "closed": 6, "ratings": 5, "engaged_conversations": 6, "converted_conversations": 4,
        "baseline_carts": 6, "baseline_orders": 3, "unattributed_orders": 3, "unattributed_revenue": "120.00",
        "contacted_carts": 4, "recovery_rate_all": 0.4,
    }
    assert (got["from"], got["to"], got["site"], got["agent"], got["currency"]) == (
        "2024-05-01", "2024-05-07", None, None, "USD")


def test_summary_for_one_site(history):
    got = summary(parse_scope({**MAY, "site": "shop-a"}))
    expected = {
        "conversations": 7, "missed": 1, "missed_rate": 0.1429,
        # waits 10 20 40 60 100 200: p50 at 2.5 -> 50; p90 at 4.5 -> 150
        "wait_p50_s": 50.0, "wait_p90_s": 150.0,
        # first responses 30 60 90 150 240: p50 = 90; p90 at 3.6 -> 150 + 0.6 * 90
        "first_response_p50_s": 90.0, "first_response_p90_s": 204.0,
        "csat": 0.5, "csat_response_rate": 0.8,
        "chat_conversion_rate": 0.6,      # C1 C2 C3 of C1 C2 C3 C4 C7
        "baseline_conversion_rate": 0.25,  # K1 of K1 K2 K3 K12
        "attributed_orders": 2, "attributed_revenue": "160.00", "aov_uplift": 1.0,
        "offers_made": 4, "offers_accepted": 2, "offer_acceptance_rate": 0.5, "offer_revenue": "20.00",
        "abandoned_carts": 4, "recovered_carts": 1, "recovery_rate": 0.3333,
        "abandonment_reasons": reasons(extra_costs=2, delivery_slow=1, other=1, card_declined=1),
        "intervention": {"treatment": 3, "holdout": 3, "treatment_rate": 0.3333, "holdout_rate": 0.3333,
                         "lift": 0.0, "ci_low": -0.7544, "ci_high": 0.7544,
                         "treatment_converted": 1, "holdout_converted": 1},
    }
    assert {k: got[k] for k in expected} == expected
    assert got["site"] == "shop-a"


def test_summary_for_one_agent_keeps_site_level_figures(history):
    got = summary(parse_scope({**MAY, "agent": "alice"}))
    expected = {
        "conversations": 3, "missed": 0, "missed_rate": 0.0,          # C1 C2 C6
        "wait_p50_s": 20.0, "wait_p90_s": 36.0,                       # 10 20 40: p90 at 1.8
        "first_response_p50_s": 45.0, "first_response_p90_s": 57.0,   # 30 60
        "csat": 0.5, "csat_response_rate": 1.0,
        "chat_conversion_rate": 1.0,                                  # C1 (O1) and C2 (O7)
        "baseline_conversion_rate": 0.5,                              # no agent: the sites' figure
        "attributed_orders": 1, "attributed_revenue": "100.00",
        "aov_uplift": 1.5,                                            # 100 / 40 - 1
        "offers_made": 2, "offers_accepted": 1, "offer_acceptance_rate": 0.5, "offer_revenue": "20.00",
        "abandoned_carts": 5,                                         # no agent: the sites' figure
        "recovered_carts": 0, "recovery_rate": 0.0,                   # contacted by alice: K8 only, not recovered
        "abandonment_reasons": reasons(extra_costs=2),
        "intervention": {"treatment": 4, "holdout": 3, "treatment_rate": 0.5, "holdout_rate": 0.3333,
                         "lift": 0.1667, "ci_low": -0.5577, "ci_high": 0.891,
                         "treatment_converted": 2, "holdout_converted": 1},
    }
    assert {k: got[k] for k in expected} == expected
    assert got["agent"] == "alice"


def test_no_data_gives_null_rates_and_percentiles_zero_counts_and_zero_money(history):
    got = summary(parse_scope({"from": "2023-01-01", "to": "2023-01-31"}))
    assert {k: got[k] for k in SUMMARY_KEYS} == {
        "conversations": 0, "missed": 0, "missed_rate": None,
        "wait_p50_s": None, "wait_p90_s": None, "first_response_p50_s": None, "first_response_p90_s": None,
        "csat": None, "csat_response_rate": None, "chat_conversion_rate": None, "baseline_conversion_rate": None,
        "attributed_orders": 0, "attributed_revenue": "0.00", "aov_uplift": None,
        "offers_made": 0, "offers_accepted": 0, "offer_acceptance_rate": None, "offer_revenue": "0.00",
        "abandoned_carts": 0, "recovered_carts": 0, "recovery_rate": None,
        "abandonment_reasons": reasons(),
        "intervention": {"treatment": 0, "holdout": 0, "treatment_rate": None, "holdout_rate": None,
                         "lift": None, "ci_low": None, "ci_high": None,
                         "treatment_converted": 0, "holdout_converted": 0},
    }


def test_one_conversation_has_equal_p50_and_p90_and_range_edges_are_inclusive_days(history):
    # 04-30 holds only C8 (created 23:59:59, wait 5 s, first response 5 s) on the last second of the day.
    got = summary(parse_scope({"from": "2024-04-30", "to": "2024-04-30"}))
    assert (got["conversations"], got["wait_p50_s"], got["wait_p90_s"]) == (1, 5.0, 5.0)
    assert (got["first_response_p50_s"], got["first_response_p90_s"]) == (5.0, 5.0)
    assert (got["attributed_orders"], got["attributed_revenue"]) == (1, "500.00")  # O8
    assert got["aov_uplift"] is None  # no unattributed order to compare with
    # 05-08 starts at midnight: C9 belongs to it, not to 05-07.
    assert summary(parse_scope({"from": "2024-05-08", "to": "2024-05-08"}))["conversations"] == 1


def test_rates_are_between_zero_and_one_and_money_is_a_decimal_string(history):
    got = summary(parse_scope(MAY))
    for key in ("missed_rate", "csat", "csat_response_rate", "chat_conversion_rate", "baseline_conversion_rate",
                "offer_acceptance_rate", "recovery_rate"):
        assert isinstance(got[key], float) and 0 <= got[key] <= 1, key
    for key in ("attributed_revenue", "offer_revenue"):
        assert isinstance(got[key], str) and got[key].count(".") == 1 and len(got[key].split(".")[1]) == 2


def test_lift_interval_is_the_normal_approximation_of_a_difference_of_proportions():
    # 60/100 vs 40/100: lift .2, se = sqrt(.24/100 + .24/100) = .069282, 1.96 se = .135789
    assert lift_with_ci(60, 100, 40, 100) == {
        "treatment_rate": 0.6, "holdout_rate": 0.4, "lift": 0.2, "ci_low": 0.0642, "ci_high": 0.3358}
    # Both arms all-or-nothing: zero variance, the interval collapses on the lift.
    assert lift_with_ci(5, 5, 0, 3) == {
        "treatment_rate": 1.0, "holdout_rate": 0.0, "lift": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    assert lift_with_ci(3, 10, 0, 0)["lift"] is None


def test_bad_parameters_are_each_named():
    with pytest.raises(ScopeError) as err:
        parse_scope({"from": "2024-13-01", "to": "yesterday", "site": "nope", "agent": "ghost", "form": "x"})
    assert set(err.value.errors) == {"from", "to", "site", "agent", "form"}
    with pytest.raises(ScopeError) as err:
        parse_scope({"from": "2024-05-07", "to": "2024-05-01"})
    assert err.value.errors == {"to": "must be on or after 'from'"}
    with pytest.raises(ScopeError) as err:
        parse_scope({"to": "2024-05-01"})
    assert err.value.errors == {"from": "required, as YYYY-MM-DD"}


def test_page_default_is_the_last_thirty_days(db):
    scope = parse_scope({}, default_days=30, today=date(2024, 5, 30))
    assert (scope.first_day, scope.last_day) == (date(2024, 5, 1), date(2024, 5, 30))
    assert isinstance(scope, Scope)


def test_epoch_seconds_are_exact_for_columns_and_parameters(db):
    from datetime import datetime, timezone

    from django.db.models import DateTimeField, Value

    from chatdesk.models import Site
    from chatdesk.reports.sql import Epoch

    from .conftest import make_site

    make_site("epoch")
    moment = Value(datetime(2024, 5, 1, 0, 0, 30, 250000, tzinfo=timezone.utc), output_field=DateTimeField())
    got = Site.objects.annotate(e=Epoch(moment)).values_list("e", flat=True).get()
    assert got == 1714521630.25


def test_a_recovered_cart_counts_through_its_own_orders_with_or_without_a_visitor(db):
    # The recovery query looks a cart's own orders up only when the cart has no visitor: with one, they are
    # among "orders of that visitor's carts". Both shapes must count: June, clear of the known history.
    from chatdesk.models import FollowUpStep, Visitor

    from .report_history import abandoned_event, cart, order, sent_followup
    from .conftest import make_site

    site = make_site("shop-r", attribution_window_hours=72)
    step = FollowUpStep.objects.create(site=site, channel=FollowUpStep.EMAIL, delay_minutes=60)
    anonymous = cart(site, None, "payment", "06-01 09:00", token="anon")
    known = cart(site, Visitor.objects.create(site=site), "payment", "06-01 09:00", token="known")
    for k, n in ((anonymous, 1), (known, 2)):
        abandoned_event(k, "06-01 10:00")
        sent_followup(k, step, "06-01 11:00")
        order(site, f"R{n}", "80.00", "06-02 09:00", cart_=k)  # no visitor on the order: only the cart links it
    got = summary(parse_scope({"from": "2024-06-01", "to": "2024-06-07"}))
    assert (got["abandoned_carts"], got["contacted_carts"], got["recovered_carts"]) == (2, 2, 2)
