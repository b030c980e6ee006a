"""The server side of the console's Follow-ups section: the call list as the page uses it, missed chats and left messages.

The call-task API's own rules (every outcome, wrong numbers, CSRF refused without a token) are in
tests/test_call_tasks.py; here: what the console page needs from it and from the socket.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from agents.console_state import initial_state
from chatdesk.actions import conversations
from chatdesk.actions.availability import leave_message
from chatdesk.actions.sweeps import mark_missed
from chatdesk.models import CallTask, CartEvent, FollowUp, FollowUpStep, LeftMessage, PageView, Visitor

from .conftest import console, make_agent, make_site
from .followup_helpers import abandoned_cart
from .routing_support import agent, committed, frames, make_visitor


def call_task(site, phone="+14155550100") -> CallTask:
    """A call on the list as a delivered `call` step leaves it: a cart left at payment, with a journey."""
    cart = abandoned_cart(site, phone=phone, consent_sms=True, minutes_ago=250)
    CartEvent.objects.create(cart=cart, kind="step_changed", data={"from": "shipping", "to": "payment"},
                             created_at=cart.abandoned_at - timedelta(minutes=5))
    PageView.objects.create(visitor=cart.visitor, url="https://shop.example.com/checkout/payment", title="Payment")
    step = FollowUpStep.objects.create(site=site, channel="call", delay_minutes=240)
    fu = FollowUp.objects.create(cart=cart, step=step, channel="call", status=FollowUp.SENT, recipient=phone,
                                 due_at=cart.abandoned_at + timedelta(minutes=240))
    return CallTask.objects.create(followup=fu, cart=cart)


def csrf_client(user) -> tuple[Client, str]:
    """A browser-like client (CSRF enforced) holding the token the console page was rendered with."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/console/")
    assert page.status_code == 200
    token = re.search(rb'<meta name="csrf-token" content="([^"]+)"', page.content).group(1).decode()
    return client, token


def test_the_console_page_carries_the_token_its_call_list_posts_with(site):
    task = call_task(site)
    client, token = csrf_client(make_agent("alice", site))
    response = client.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "voicemail", "note": "left a message"},
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.outcome, task.note, task.agent.username) == ("voicemail", "left a message", "alice")


def test_an_agent_gets_each_call_with_contact_cart_lines_reached_step_and_journey(site):
    task = call_task(site)
    client = Client()
    client.force_login(make_agent("alice", site))
    (entry,) = client.get("/console/api/call-tasks/").json()["call_tasks"]
    assert entry["id"] == task.id and entry["status"] == "open"
    assert entry["contact"]["name"] == "Ann" and entry["contact"]["phone"] == "+14155550100"
    assert entry["due_at"] and entry["cart"]["currency"] == "USD" and entry["cart"]["total"] == "135.49"
    assert [(i["name"], i["quantity"], i["unit_price"]) for i in entry["cart"]["items"]] == [
        ("Fleece hoodie", 2, "54.00"), ("Organic cotton tee", 1, "19.99")]
    # The cart sits at shipping now, but the shopper got as far as payment: that is what the agent asks about.
    assert (entry["cart"]["checkout_step"], entry["reached_step"]) == ("shipping", "payment")
    assert [j["kind"] for j in entry["journey"]] == ["step_changed", "page"]


def test_a_bad_outcome_gets_a_400_naming_the_field_and_the_codes_and_stores_nothing(site):
    task = call_task(site)
    client, token = csrf_client(make_agent("alice", site))
    response = client.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "busy", "note": "try later"},
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_field", "outcome")
    assert all(code in body["detail"] for code in ("reached", "voicemail", "no_answer", "wrong_number", "recovered"))
    task.refresh_from_db()
    assert (task.outcome, task.note, task.done_at, task.agent_id) == ("", "", None, None)
    assert FollowUp.objects.get(pk=task.followup_id).sent_at is None


def test_another_sites_agent_gets_404_and_a_user_without_an_agent_profile_403(site):
    task = call_task(site)
    outsider, token = csrf_client(make_agent("olga", make_site("other-store")))
    assert outsider.get(f"/console/api/call-tasks/{task.id}/").status_code == 404
    assert outsider.post(f"/console/api/call-tasks/{task.id}/", {"outcome": "reached"},
                         content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 404
    plain = Client()
    plain.force_login(get_user_model().objects.create_user("sam", password="pw"))
    assert plain.get("/console/api/call-tasks/").status_code == 403
    assert CallTask.objects.get().outcome == ""


def test_an_outcome_tells_every_console_of_the_site_so_the_call_leaves_their_lists(site):
    from chatdesk.actions.calls import record_call_outcome
    from chatdesk.events import site_agents_group

    task = call_task(site)
    alice = make_agent("alice", site)
    with committed() as sent:
        record_call_outcome(alice, task.id, "recovered", "")
    assert frames(sent, "call_task", site_agents_group(site.id)) == [
        {"type": "call_task", "call_task": {"id": task.id, "status": "done", "outcome": "recovered"}}]


def test_the_console_state_lists_missed_chats_with_their_last_message(site):
    alice = agent("alice", site)
    visitor = make_visitor(site, seen_at=timezone.now() - timedelta(hours=1))
    Visitor.objects.filter(pk=visitor.pk).update(name="Pat")
    message, _ = conversations.post_shopper_message(Visitor.objects.get(pk=visitor.pk), "m1", "Do you ship on Saturdays?")
    assert mark_missed(message.conversation_id, timezone.now())
    (missed,) = initial_state(alice)["missed"]
    assert (missed["id"], missed["status"], missed["visitor_name"]) == (message.conversation_id, "missed", "Pat")
    assert (missed["last_text"], missed["last_sender"]) == ("Do you ship on Saturdays?", "shopper")
    assert missed["missed_at"]


@pytest.mark.django_db(transaction=True)
async def test_a_left_message_marked_done_leaves_the_list_of_every_agent_of_the_site_and_no_other(site):
    visitor = await sync_to_async(make_visitor)(site)
    left, _ = await sync_to_async(leave_message)(visitor, "l1", "Do you ship to Norway?", "kari@example.no")
    alice, bob = await sync_to_async(agent)("alice", site), await sync_to_async(agent)("bob", site)
    olga = await sync_to_async(agent)("olga", await sync_to_async(make_site)("other-store"))
    desks = {name: await console(user) for name, user in (("alice", alice), ("bob", bob), ("olga", olga))}
    assert [m["id"] for m in desks["alice"].state["left_messages"]] == [left.id]
    for desk in desks.values():
        await desk.drain()

    await desks["bob"].send({"type": "left_message_done", "left_message_id": left.id, "note": "answered by email",
                             "client_id": "lm-1"})
    for name in ("alice", "bob"):
        frame = await desks[name].expect("left_message")
        assert frame["left_message"]["id"] == left.id
        assert (frame["left_message"]["status"], frame["left_message"]["done_note"]) == ("done", "answered by email")
    assert not [f for f in await desks["olga"].drain(0.3) if f["type"] == "left_message"]
    stored = await sync_to_async(LeftMessage.objects.select_related("done_by").get)(pk=left.id)
    assert (stored.status, stored.done_by.username) == ("done", "bob")

    # An unknown id is refused, and the error names the client_id the console sent, so the page shows it on that card.
    await desks["alice"].send({"type": "left_message_done", "left_message_id": left.id + 99, "note": "", "client_id": "lm-2"})
    error = await desks["alice"].expect("error")
    assert (error["code"], error["field"], error["client_id"]) == ("not_found", "left_message_id", "lm-2")
    for desk in desks.values():
        await desk.close()
