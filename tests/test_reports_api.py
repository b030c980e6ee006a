"""`/api/v1/reports/summary/`: who may read it (session, staff token), and clear 400s for bad parameters."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from chatdesk.reports.auth import make_staff_token

from .report_history import build_history

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/summary/"
MAY = {"from": "2024-05-01", "to": "2024-05-07"}


def supervisor(username="sam"):
    user = get_user_model().objects.create(username=username, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    return user


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_supervisor_session_reads_the_summary(db):
    build_history()
    response = session(supervisor()).get(URL, MAY)
    assert response.status_code == 200
    body = response.json()
    assert (body["conversations"], body["attributed_revenue"], body["chat_conversion_rate"]) == (8, "240.00", 0.6667)
    assert body["intervention"]["lift"] == 0.1667


def test_site_and_agent_filters_reach_the_figures(db):
    build_history()
    client = session(supervisor())
    assert client.get(URL, {**MAY, "site": "shop-b"}).json()["conversations"] == 1
    assert client.get(URL, {**MAY, "agent": "bob"}).json()["conversations"] == 4


def test_staff_token_reads_the_summary_and_a_password_change_revokes_it(db):
    sam = supervisor()
    token = make_staff_token(sam)
    client = Client()
    ok = client.get(URL, MAY, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ok.status_code == 200 and ok.json()["conversations"] == 0
    sam.set_password("a-new-password-123")
    sam.save()
    revoked = client.get(URL, MAY, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 401 and "staff token" in revoked.json()["detail"]


def test_a_forged_token_or_an_agent_token_is_refused(db):
    sam = supervisor()
    client = Client()
    token = make_staff_token(sam)
    assert client.get(URL, MAY, HTTP_AUTHORIZATION=f"Bearer {token[:-2]}xx").status_code == 401
    assert client.get(URL, MAY, HTTP_AUTHORIZATION="Bearer").status_code == 401
    # A supervisor demoted after the token was issued loses access with it.
    sam.groups.clear()
    assert client.get(URL, MAY, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_management_command_prints_a_working_token(db, capsys):
    supervisor()
    call_command("reports_token", "sam")
    token = capsys.readouterr().out.strip()
    assert Client().get(URL, MAY, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_anonymous_gets_401_and_an_agent_gets_403(db):
    assert Client().get(URL, MAY).status_code == 401
    agent = build_history()["alice"]
    response = session(agent).get(URL, MAY)
    assert response.status_code == 403 and response.json()["detail"] == "reports are for supervisors"


@pytest.mark.parametrize("params, field, words", [
    ({}, "from", "required"),
    ({"from": "2024-05-01"}, "to", "required"),
    ({"from": "01/05/2024", "to": "2024-05-07"}, "from", "YYYY-MM-DD"),
    ({"from": "2024-02-30", "to": "2024-05-07"}, "from", "not a real calendar date"),
    ({"from": "2024-05-07", "to": "2024-05-01"}, "to", "on or after"),
    ({"from": "2020-01-01", "to": "2024-05-01"}, "to", "at most"),
    ({**MAY, "site": "no-such-site"}, "site", "no site"),
    ({**MAY, "agent": "nobody"}, "agent", "no user"),
    ({**MAY, "agent": "sam"}, "agent", "not an agent"),
    ({**MAY, "form": "2024-05-01"}, "form", "unknown parameter"),
])
def test_bad_parameters_get_400_naming_the_field(db, params, field, words):
    response = session(supervisor()).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and words in body["errors"][field]
    assert body["detail"].startswith("invalid parameters")


def test_series_endpoint_returns_chart_data(db):
    build_history()
    body = session(supervisor()).get("/api/v1/reports/series/", MAY).json()
    assert [p["conversations"] for p in body["over_time"]["points"]] == [0, 3, 1, 1, 1, 1, 1]
    assert body["over_time"]["points"][1]["chat_conversion_rate"] == 1.0  # C1 C2 C3 all converted
    assert {r["username"]: r["conversations"] for r in body["agents"]} == {"alice": 3, "bob": 4}
    accepted = {r["kind"]: r["accepted"] for r in body["offers"]}
    assert accepted == {"upsell": 1, "cross_sell": 0, "bundle": 1, "discount": 0, "free_shipping": 0}
    assert [b["count"] for b in body["distributions"]["wait"]] == [1, 1, 2, 2, 1, 0, 0]  # 10 | 20 | 30 40 | 60 100 | 200
    extra = next(r for r in body["reasons"] if r["code"] == "extra_costs")
    assert extra == {"code": "extra_costs", "label": "Extra costs too high", "count": 2, "share": 0.3333,
                     "baymard_share": 0.48}


def test_openapi_schema_documents_the_reports_endpoints(db):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/reports/summary/" in schema
