"""The reports benchmark at a tiny size (bench/reports_bench.py, bench/reports_data.py), so that it keeps working.

Builds 200 conversations and 2,000 messages into the test database with the
bench's own SQL builder, checks that the data keeps the app's rules (the
app's attribution code agrees with every order), then times the summary the
way the bench does and checks the figures against what was built.
"""
from __future__ import annotations

import pytest
from django.db.models import Q

from bench import reports_bench, reports_data
from chatdesk.attribution import compute_offer_revenue, find_conversation
from chatdesk.models import Cart, Conversation, Message, Offer, Order
from chatdesk.reports.scope import parse_scope

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_tiny_build_keeps_the_apps_rules_and_the_summary_counts_what_was_built():
    built = reports_data.build(conversations=200, messages=2000, days=30, log=lambda *args: None)
    assert built["counts"]["chatdesk_conversation"] == Conversation.objects.count() == 200
    assert built["counts"]["chatdesk_message"] == Message.objects.count() == 2000
    assert reports_data.check() == {rule: 0 for rule in reports_data.INVARIANTS}
    # Every order is attributed as chatdesk.attribution would, with the same offer revenue.
    orders = Order.objects.select_related("site", "cart").prefetch_related("lines")
    assert orders.filter(conversation__isnull=False).exists()
    for order in orders:
        conv = find_conversation(order)
        assert order.conversation_id == (conv.pk if conv else None), order.order_id
        if conv is not None:
            revenue = compute_offer_revenue(list(order.lines.all()), order.total, order.discount_codes,
                                            list(conv.offers.all()))
            assert order.offer_revenue == revenue, order.order_id

    scopes = reports_bench.default_scopes()
    assert [name.split(" (")[0].split(",")[0] for name, _ in scopes] == ["all sites", "one site", "one agent",
                                                                        "all sites"]
    rows = reports_bench.measure(scopes, repeats=1, log=lambda *args: None)
    assert all(r["http_status"] == 200 and r["http_matches_in_process"] for r in rows)
    whole, site, agent = rows[0]["summary"], rows[1]["summary"], rows[2]["summary"]
    scope = parse_scope(rows[0]["params"])
    in_range = Q(created_at__gte=scope.start, created_at__lt=scope.end)
    assert whole["conversations"] == 200
    assert whole["missed"] == Conversation.objects.filter(status=Conversation.MISSED).count() > 0
    assert whole["closed"] == Conversation.objects.filter(status=Conversation.CLOSED).count()
    assert whole["over_target"] == Conversation.objects.filter(over_target=True).count() > 0
    assert whole["attributed_orders"] == Order.objects.filter(in_range, conversation__isnull=False).count() > 0
    assert whole["offers_made"] == Offer.objects.filter(in_range).count() > 0
    assert whole["abandoned_carts"] > 0 and whole["recovered_carts"] > 0
    assert whole["abandoned_carts"] <= Cart.objects.filter(max_step_reached__in=reports_data.STEPS[1:]).count()
    assert whole["intervention"]["treatment"] > whole["intervention"]["holdout"] > 0
    assert sum(whole["abandonment_reasons"].values()) <= whole["closed"]
    for key in ("missed_rate", "csat", "csat_response_rate", "chat_conversion_rate", "baseline_conversion_rate",
                "offer_acceptance_rate", "recovery_rate"):
        assert 0 <= whole[key] <= 1, key
    assert 0 < whole["wait_p50_s"] <= whole["wait_p90_s"]
    assert whole["wait_p50_s"] < whole["first_response_p50_s"]
    assert 0 < site["conversations"] < whole["conversations"]
    assert agent["conversations"] == Conversation.objects.filter(agent__username=rows[2]["params"]["agent"]).count()

    report = {"date": "2026-01-01", "command": "python bench/reports_bench.py", "repeats": 1,
              "machine": reports_bench.machine(), "load": {"start": "up", "end": "up"},
              "data": {**built, "build_s": 1.0, "migrate_s": 1.0, "vacuum_analyze_s": 0.0, "db_size": "1 MB"},
              "scopes": rows}
    page = reports_bench.markdown(report)
    assert f"| {rows[0]['scope']} | 200 |" in page and "recovery_figures" in page
