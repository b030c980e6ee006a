"""The call list: agents of the cart's site see each task with cart and journey, and record the outcome."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from huey.contrib.djhuey import HUEY

from chatdesk.actions import followups
from chatdesk.models import CallTask, CartEvent, ContactOptOut, FollowUp, PageView

from .conftest import make_agent, make_site
from .followup_helpers import abandoned_cart, step


@pytest.fixture(autouse=True)
def immediate_huey():
    HUEY.immediate = True
    yield
    HUEY.immediate = False


@pytest.fixture
def task(site):
    step(site, "call", delay=240, min_value="100.00")
    cart = abandoned_cart(site, phone="+14155550100", consent_sms=True, minutes_ago=250)
    CartEvent.objects.create(cart=cart, kind="step_changed", data={"from": "contact", "to": "shipping"},
                             created_at=cart.abandoned_at)
    PageView.objects.create(visitor=cart.visitor, url="https://shop.example.com/checkout/shipping", title="Shipping")
    followups.scan_followups()
    for pk in followups.due_pending_ids():
        followups.deliver_followup(pk)
    return CallTask.objects.get()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_agent_sees_the_call_list_with_cart_contact_and_journey(site, task):
    agent = logged_in(make_agent("alice", site))
    body = agent.get("/console/api/call-tasks/").json()
    (entry,) = body["call_tasks"]
    assert entry["id"] == task.id and entry["status"] == "open" and entry["outcome"] is None
    assert entry["contact"] == {"name": "Ann", "phone": "+14155550100", "email": "Ann@Example.com"}
    assert entry["cart"]["total"] == "135.49" and [i["sku"] for i in entry["cart"]["items"]] == ["HOODIE-1", "TEE-1"]
    kinds = [j["kind"] for j in entry["journey"]]
    assert "step_changed" in kinds and "page" in kinds
    assert entry["followups"][0]["channel"] == "call" and entry["ordered"] is False and entry["opted_out"] is False


def test_recording_the_outcome_moves_the_task_to_done_and_counts_a_contact(site, task):
    alice = make_agent("alice", site)
    agent = logged_in(alice)
    response = agent.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "reached", "note": "will order tonight"},
                          content_type="application/json")
    assert response.status_code == 200
    done = response.json()["call_task"]
    assert (done["status"], done["outcome"], done["note"], done["agent"]["name"]) == (
        "done", "reached", "will order tonight", "Alice")
    assert FollowUp.objects.get(pk=task.followup_id).sent_at is not None
    assert agent.get("/console/api/call-tasks/").json()["call_tasks"] == []
    assert [t["id"] for t in agent.get("/console/api/call-tasks/?status=done").json()["call_tasks"]] == [task.id]


@pytest.mark.parametrize("outcome, contacted", [
    ("reached", True), ("voicemail", True), ("recovered", True), ("no_answer", False), ("wrong_number", False),
])
def test_every_outcome_can_be_recorded(site, task, outcome, contacted):
    agent = logged_in(make_agent("alice", site))
    assert agent.post(f"/console/api/call-tasks/{task.id}/", {"outcome": outcome},
                      content_type="application/json").status_code == 200
    task.refresh_from_db()
    assert task.outcome == outcome and task.done_at is not None
    assert (FollowUp.objects.get(pk=task.followup_id).sent_at is not None) is contacted


def test_a_wrong_number_is_never_texted_or_called_again(site, task):
    agent = logged_in(make_agent("alice", site))
    agent.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "wrong_number"}, content_type="application/json")
    assert ContactOptOut.objects.filter(address="+14155550100", source="wrong_number").exists()
    assert followups.is_opted_out(site.id, "sms", "(415) 555-0100")


@pytest.mark.parametrize("body", [{"outcome": "maybe"}, {}, {"outcome": "reached", "note": "x" * 2001},
                                  {"outcome": "reached", "note": 5}])
def test_a_bad_outcome_is_refused_and_stores_nothing(site, task, body):
    agent = logged_in(make_agent("alice", site))
    response = agent.post(f"/console/api/call-tasks/{task.id}/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"]
    task.refresh_from_db()
    assert (task.outcome, task.done_at) == ("", None)


def test_not_json_is_refused(site, task):
    agent = logged_in(make_agent("alice", site))
    response = agent.post(f"/console/api/call-tasks/{task.id}/", "nope", content_type="application/json")
    assert response.status_code == 400


def test_an_agent_of_another_site_sees_nothing(site, task):
    other = make_site("other-store")
    outsider = logged_in(make_agent("olga", other))
    assert outsider.get("/console/api/call-tasks/").json()["call_tasks"] == []
    assert outsider.get(f"/console/api/call-tasks/{task.id}/").status_code == 404
    assert outsider.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "reached"},
                         content_type="application/json").status_code == 404
    assert CallTask.objects.get().outcome == ""


def test_anonymous_and_non_agents_are_refused(site, task):
    assert Client().get("/console/api/call-tasks/").status_code == 401
    user = get_user_model().objects.create_user("sam", password="pw")
    assert logged_in(user).get("/console/api/call-tasks/").status_code == 403


def test_posting_needs_the_csrf_token_like_any_session_form(site, task):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_agent("alice", site))
    response = client.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "reached"},
                           content_type="application/json")
    assert response.status_code == 403
    assert CallTask.objects.get().outcome == ""
