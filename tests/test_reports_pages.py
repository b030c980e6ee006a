"""/reports/ and the live floor for supervisors only: pages, CSV exports, tokens, the floor socket."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from agents.models import AgentProfile
from chatdesk.models import Conversation, Visitor
from chatdesk.reports.floor import floor_snapshot

from .conftest import ORIGIN, make_site, session_cookie, widget
from .report_history import build_history, make_agent

MAY = {"from": "2024-05-01", "to": "2024-05-07"}
TABLES = ["summary", "over_time", "wait_distribution", "first_response_distribution", "reasons", "offers", "agents",
          "load", "intervention"]


def make_supervisor(username="sam"):
    user = get_user_model().objects.create(username=username, first_name=username.title(), is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figure(html: str, key: str) -> str:
    return re.search(rf'data-figure="{key}">([^<]*)<', html).group(1)


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login_and_agents_get_403_on_every_reports_page(db):
    history = build_history()
    for path in ("/reports/", "/reports/floor/", "/reports/floor.json", "/reports/export/summary.csv"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}", path
        assert client_for(history["alice"]).get(path).status_code == 403, path
    assert client_for(history["alice"]).post("/reports/token/").status_code == 403


@pytest.mark.django_db
def test_the_page_shows_the_known_figures_with_its_filters_and_a_strict_csp(db):
    build_history()
    response = client_for(make_supervisor()).get("/reports/", MAY)
    assert response.status_code == 200
    html = response.content.decode()
    assert figure(html, "conversations") == "8"
    assert figure(html, "chat_conversion_rate") == "66.7%"
    assert figure(html, "attributed_revenue") == "$240.00"
    assert figure(html, "wait_p50_s") == "40 s"
    assert figure(html, "intervention_lift") == "+16.7 pts"
    assert 'value="2024-05-01"' in html and 'value="2024-05-07"' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # Scripts come only from our static files; the only inline <script> is the JSON data block.
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    assert not re.search(r'src="https?://', html)  # nothing loaded from elsewhere


@pytest.mark.django_db
def test_bad_filters_show_what_is_wrong_and_fall_back_to_the_last_30_days(db):
    response = client_for(make_supervisor()).get("/reports/", {"from": "2024-05-09", "to": "2024-05-01", "site": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "must be on or after" in html and "no site with key" in html
    assert figure(html, "conversations") == "0"


@pytest.mark.django_db
def test_every_table_exports_as_csv_for_the_chosen_scope(db):
    build_history()
    client = client_for(make_supervisor())
    for name in TABLES:
        response = client.get(f"/reports/export/{name}.csv", {**MAY, "site": "shop-a"})
        assert response.status_code == 200, name
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f'filename="chatdesk-{name}-2024-05-01_2024-05-07_shop-a.csv"' in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert len(rows) > 1, name
    summary = dict(csv.reader(io.StringIO(client.get("/reports/export/summary.csv", MAY).content.decode())))
    assert summary["conversations"] == "8" and summary["attributed_revenue"] == "240.00"
    assert summary["intervention.ci_low"] == "-0.5577" and summary["wait_p90_s"] == "140.0"
    assert client.get("/reports/export/nonsense.csv", MAY).status_code == 404
    assert client.get("/reports/export/summary.csv", {"from": "nope", "to": "2024-05-01"}).status_code == 400


@pytest.mark.django_db
def test_csv_cells_that_look_like_formulas_are_defused(db):
    history = build_history()
    AgentProfile.objects.filter(user=history["alice"]).update(display_name='=HYPERLINK("http://evil","x")')
    body = client_for(make_supervisor()).get("/reports/export/agents.csv", MAY).content.decode()
    assert "'=HYPERLINK" in body
    assert "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body


@pytest.mark.django_db
def test_the_token_page_issues_a_token_the_api_accepts(db):
    client = client_for(make_supervisor())
    html = client.post("/reports/token/").content.decode()
    token = re.search(r'<pre class="token" id="token">([^<]+)</pre>', html).group(1)
    response = Client().get("/api/v1/reports/summary/", MAY, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert client.get("/reports/token/").status_code == 405  # issuing is a POST (CSRF-protected)


@pytest.mark.django_db
def test_floor_snapshot_counts_waits_against_each_sites_target(db):
    a = make_site("shop-a", target_wait_seconds=60)
    b = make_site("shop-b", target_wait_seconds=300)
    alice = make_agent("alice", a)
    AgentProfile.objects.filter(user=alice).update(presence="online", capacity=3)
    now = datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)
    for site, seconds_ago in ((a, 30), (a, 90), (b, 200), (b, 400)):
        Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site), status="queued",
                                    queued_at=now - timedelta(seconds=seconds_ago))
    Conversation.objects.create(site=a, visitor=Visitor.objects.create(site=a), status="active", agent=alice,
                                queued_at=now - timedelta(minutes=5))
    snap = floor_snapshot(now=now)
    assert snap["totals"] == {"queue_length": 4, "longest_wait_s": 400.0, "over_target": 2, "agents_online": 1,
                              "agents_away": 0, "load": 1, "capacity": 3}
    assert [(s["key"], s["queue_length"], s["longest_wait_s"], s["over_target"]) for s in snap["sites"]] == [
        ("shop-a", 2, 90.0, 1), ("shop-b", 2, 400.0, 1)]
    assert [q["wait_s"] for q in snap["queue"]] == [400.0, 200.0, 90.0, 30.0]  # longest first
    assert [q["over_target"] for q in snap["queue"]] == [True, False, True, False]
    assert snap["agents"] == [{"username": "alice", "name": "Alice", "presence": "online", "load": 1, "capacity": 3,
                               "sites": ["shop-a"]}]
    only_b = floor_snapshot([b.pk], now=now)
    assert only_b["totals"]["queue_length"] == 2 and only_b["agents"] == []


@pytest.mark.django_db
def test_floor_json_serves_the_snapshot_for_polling(db):
    site = make_site("shop-a")
    Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site), status="queued",
                                queued_at=datetime.now(timezone.utc))
    client = client_for(make_supervisor())
    body = client.get("/reports/floor.json", {"site": "shop-a"}).json()
    assert body["type"] == "floor" and body["totals"]["queue_length"] == 1
    assert client.get("/reports/floor.json", {"site": "nope"}).status_code == 404


async def _floor_socket(user, query=""):
    cookie = await sync_to_async(session_cookie)(user)
    from chatdesk.asgi import application

    comm = WebsocketCommunicator(application, f"/ws/floor/{query}",
                                 headers=[(b"cookie", cookie), (b"origin", ORIGIN.encode())])
    connected, code = await comm.connect()
    return comm, connected, code


@pytest.mark.django_db(transaction=True)
async def test_the_floor_socket_refuses_agents_and_pushes_a_new_snapshot_when_a_shopper_queues(site, alice):
    comm, connected, _ = await _floor_socket(alice)
    assert not connected
    sam = await sync_to_async(make_supervisor)()
    comm, connected, _ = await _floor_socket(sam, "?site=demo-store")
    assert connected
    first = await comm.receive_json_from(timeout=3)
    assert first["type"] == "floor" and first["totals"]["queue_length"] == 0
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "Is this in stock?"})
    await shopper.expect("ack")
    pushed = await comm.receive_json_from(timeout=5)
    assert pushed["totals"]["queue_length"] == 1
    assert pushed["queue"][0]["site"] == "demo-store"
    await comm.send_json_to({"type": "refresh"})
    assert (await comm.receive_json_from(timeout=3))["totals"]["queue_length"] == 1
    await shopper.close()
    await comm.disconnect()
    refused, connected, _ = await _floor_socket(sam, "?site=no-such-site")
    assert not connected


@pytest.mark.django_db
def test_signing_in_without_next_takes_supervisors_to_reports_and_agents_to_the_console(db):
    history = build_history()
    assert client_for(make_supervisor()).get("/")["Location"] == "/reports/"
    assert client_for(history["alice"]).get("/")["Location"] == "/console/"
    assert Client().get("/")["Location"] == "/console/"  # which then asks for a sign-in
