"""Presence with grace period, missed conversations, business hours and left messages, with time chosen by the test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError

from agents.models import AgentProfile
from agents.presence import CONSOLE_PING_SECONDS, heartbeat, socket_closed, socket_opened, sweep_presence
from chatdesk.actions.availability import (
    availability, complete_left_message, leave_message, pending_left_messages,
)
from chatdesk.actions.sweeps import announce_opening_changes, routing_sweep, sweep_missed
from chatdesk.business_hours import is_open, validate_business_hours
from chatdesk.errors import ActionError
from chatdesk.events import site_visitors_group, visitor_group
from chatdesk.models import Assignment, Conversation, LeftMessage, Message, Site, Visitor

from .routing_support import T0, agent, committed, frames, make_active, make_visitor, make_waiting, set_online

pytestmark = pytest.mark.django_db


# --- presence --------------------------------------------------------------------------------


def test_an_agent_whose_sockets_closed_goes_offline_exactly_at_the_grace_period(site):
    a = agent("a", site)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    assert profile.presence == AgentProfile.ONLINE
    socket_closed(profile, now=T0 + timedelta(seconds=10))
    assert sweep_presence(T0 + timedelta(seconds=69)) == []
    assert AgentProfile.objects.get(user=a).presence == AgentProfile.ONLINE
    assert sweep_presence(T0 + timedelta(seconds=70)) == [a.id]
    assert AgentProfile.objects.get(user=a).presence == AgentProfile.OFFLINE


def test_reconnecting_within_the_grace_period_keeps_the_agent_and_their_conversations(site):
    a = agent("a", site)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    held = make_active(site, a)
    socket_closed(profile, now=T0 + timedelta(seconds=5))  # a page reload
    socket_opened(profile, now=T0 + timedelta(seconds=8))
    assert sweep_presence(T0 + timedelta(seconds=65)) == []
    heartbeat(profile, now=T0 + timedelta(seconds=60))
    assert sweep_presence(T0 + timedelta(seconds=139)) == []
    assert AgentProfile.objects.get(user=a).presence == AgentProfile.ONLINE
    assert Conversation.objects.get(pk=held.id).agent_id == a.id


def test_an_agent_going_offline_returns_their_conversations_to_the_head_of_the_queue_with_a_system_message(site):
    Site.objects.filter(pk=site.pk).update(presence_grace_seconds=30)
    a = agent("a", site)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    first = make_active(site, a)
    second = make_active(site, a)
    Conversation.objects.filter(pk=first.pk).update(created_at=T0 - timedelta(minutes=5))
    waiting = make_waiting(site, total="3000.00", queued_at=T0 - timedelta(hours=1))
    socket_closed(profile, now=T0)
    with committed() as sent:
        assert sweep_presence(T0 + timedelta(seconds=30)) == [a.id]
    from chatdesk.actions.queue import queued

    # Both come back ahead of everyone, the older conversation first.
    assert [c.id for c in queued([site.id])] == [first.id, second.id, waiting.id]
    for conv in (first, second):
        conv = Conversation.objects.get(pk=conv.id)
        assert (conv.status, conv.agent_id) == (Conversation.QUEUED, None)
        assert conv.first_assigned_at is not None  # the reports still know it was answered
        system = Message.objects.get(conversation=conv, sender=Message.SYSTEM)
        assert "back at the front of the queue" in system.text
        shopper_frames = frames(sent, "message", visitor_group(conv.visitor.public_id))
        assert [f["message"]["text"] for f in shopper_frames] == [system.text]
        assert frames(sent, "queue", visitor_group(conv.visitor.public_id))[-1]["position"] in (1, 2)
        assert Assignment.objects.get(conversation=conv).end_reason == Assignment.RETURNED


def test_sockets_that_died_without_a_close_are_noticed_by_the_missing_pings(site):
    a = agent("a", site)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    socket_opened(profile, now=T0)  # two tabs, then the process serving them is killed: no close ever comes
    heartbeat(profile, now=T0 + timedelta(seconds=20))
    limit = 60 + CONSOLE_PING_SECONDS
    assert sweep_presence(T0 + timedelta(seconds=20 + limit - 1)) == []
    assert sweep_presence(T0 + timedelta(seconds=20 + limit)) == [a.id]
    assert AgentProfile.objects.get(user=a).connected_sockets == 0


def test_a_ping_from_a_live_console_brings_an_agent_marked_offline_back(site):
    a = agent("a", site)
    profile = AgentProfile.objects.get(user=a)
    assert profile.presence == AgentProfile.OFFLINE
    heartbeat(profile, now=T0)
    profile.refresh_from_db()
    assert (profile.presence, profile.connected_sockets) == (AgentProfile.ONLINE, 1)


def test_an_agent_of_several_sites_gets_the_longest_grace(site):
    from .conftest import make_site

    other = make_site("other-shop", presence_grace_seconds=300)
    a = agent("a", site)
    AgentProfile.objects.get(user=a).sites.add(other)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    socket_closed(profile, now=T0)
    assert sweep_presence(T0 + timedelta(seconds=299)) == []
    assert sweep_presence(T0 + timedelta(seconds=300)) == [a.id]


def test_a_returned_conversation_on_an_auto_site_goes_to_another_online_agent(site):
    Site.objects.filter(pk=site.pk).update(routing_mode=Site.ROUTING_AUTO)
    a, b = agent("a", site), agent("b", site)
    profile = socket_opened(AgentProfile.objects.get(user=a), now=T0)
    set_online(b, heartbeat=T0 + timedelta(seconds=100))
    held = make_active(site, a)
    socket_closed(profile, now=T0)
    with committed():
        sweep_presence(T0 + timedelta(seconds=60))
    assert Conversation.objects.get(pk=held.id).agent_id == b.id


# --- missed --------------------------------------------------------------------------------


def test_a_waiting_conversation_becomes_missed_once_the_shopper_has_been_gone_long_enough(site):
    Site.objects.filter(pk=site.pk).update(missed_after_minutes=5, target_wait_seconds=60)
    conv = make_waiting(site, queued_at=T0, seen_at=T0 + timedelta(seconds=30))
    assert sweep_missed(T0 + timedelta(minutes=5, seconds=29)) == []
    with committed() as sent:
        assert sweep_missed(T0 + timedelta(minutes=5, seconds=30)) == [conv.id]
    conv = Conversation.objects.get(pk=conv.id)
    assert conv.status == Conversation.MISSED and conv.missed_at == T0 + timedelta(minutes=5, seconds=30)
    assert conv.over_target and conv.wait_seconds == 330
    assert frames(sent, "conversation")[0]["conversation"]["status"] == "missed"


def test_a_pinging_shopper_is_never_missed_however_long_they_wait(site):
    Site.objects.filter(pk=site.pk).update(missed_after_minutes=5)
    conv = make_waiting(site, queued_at=T0)
    for minute in range(1, 30):
        now = T0 + timedelta(minutes=minute)
        Visitor.objects.filter(pk=conv.visitor_id).update(last_seen_at=now - timedelta(seconds=25))
        assert sweep_missed(now) == []


def test_a_socket_counted_open_but_silent_still_counts_as_gone(site):
    Site.objects.filter(pk=site.pk).update(missed_after_minutes=2)
    conv = make_waiting(site, queued_at=T0, seen_at=T0)
    Visitor.objects.filter(pk=conv.visitor_id).update(connected_sockets=1)  # its process was killed
    assert sweep_missed(T0 + timedelta(minutes=2)) == [conv.id]


def test_missed_conversations_stay_in_the_console_state_for_follow_up(site):
    from agents.console_state import recent_missed

    a = agent("a", site)
    conv = make_waiting(site, queued_at=T0, seen_at=T0)
    sweep_missed(T0 + timedelta(minutes=10))
    shown = recent_missed(AgentProfile.objects.get(user=a), [site.id], T0 + timedelta(days=1))
    assert [c.id for c in shown] == [conv.id]
    assert recent_missed(AgentProfile.objects.get(user=a), [site.id], T0 + timedelta(days=8)) == []


def test_the_minute_sweep_does_presence_missed_and_routing_in_one_call(site):
    Site.objects.filter(pk=site.pk).update(routing_mode=Site.ROUTING_AUTO)
    a = agent("a", site)
    set_online(a, heartbeat=T0 + timedelta(minutes=9, seconds=50))
    b = agent("b", site)
    set_online(b, heartbeat=T0, sockets=0)
    gone = make_waiting(site, queued_at=T0, seen_at=T0)
    Conversation.objects.filter(pk=gone.pk).update(priority_key=10**12)  # first in line, but its shopper left
    here = make_waiting(site, queued_at=T0, seen_at=T0 + timedelta(minutes=9, seconds=50))
    with committed():
        result = routing_sweep(T0 + timedelta(minutes=10))
    assert result["offline"] == [b.id] and result["missed"] == [gone.id]
    assert Conversation.objects.get(pk=here.id).agent_id == a.id


# --- business hours ---------------------------------------------------------------------------


HOURS = {
    "mon": ["09:00", "17:00"],
    "tue": [["09:00", "12:00"], ["13:00", "17:30"]],
    "fri": ["22:00", "02:00"],
    "sat": ["10:00", "24:00"],
    "holidays": ["2026-03-03"],
}


def at(day: int, hh: int, mm: int = 0, ss: int = 0, tz=dt_timezone.utc) -> datetime:
    # March 2026: the 2nd is a Monday.
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=tz)


@pytest.mark.parametrize("when,expected", [
    (at(2, 8, 59, 59), False), (at(2, 9), True), (at(2, 16, 59, 59), True), (at(2, 17), False),
    (at(3, 10), False),                      # Tuesday the 3rd is a holiday
    (at(10, 12, 30), False), (at(10, 13), True), (at(10, 17, 29), True),  # the next Tuesday: a lunch break
    (at(4, 12), False),                      # Wednesday is not listed: closed
    (at(6, 21, 59), False), (at(6, 22), True), (at(7, 1, 59), True), (at(7, 2), False),  # Friday night into Saturday
    (at(7, 23, 59, 59), True), (at(8, 0, 0), False),  # Saturday until midnight, Sunday closed
])
def test_business_hours_in_utc(when, expected):
    assert is_open(HOURS, "UTC", when) is expected


def test_business_hours_are_read_in_the_sites_time_zone():
    hours = {"mon": ["09:00", "17:00"]}
    # 09:00 in New York on Monday 2 March 2026 (EST, UTC-5) is 14:00 UTC.
    assert not is_open(hours, "America/New_York", at(2, 13, 59))
    assert is_open(hours, "America/New_York", at(2, 14))
    # After the change to summer time (8 March), 09:00 EDT is 13:00 UTC.
    assert is_open({"mon": ["09:00", "17:00"]}, "America/New_York", at(9, 13))


def test_empty_hours_mean_always_open_and_bad_hours_are_refused_by_the_admin():
    assert is_open({}, "UTC", at(4, 3))
    for bad in ({"monday": ["09:00", "17:00"]}, {"mon": ["9am", "5pm"]}, {"mon": ["09:00"]},
                {"holidays": ["soon"]}, ["09:00"], {"mon": ["24:00", "02:00"]}):
        with pytest.raises(ValidationError):
            validate_business_hours(bad)
    validate_business_hours(HOURS)


def test_availability_says_closed_outside_hours_and_no_agents_when_nobody_is_online(site):
    Site.objects.filter(pk=site.pk).update(business_hours={"mon": ["09:00", "17:00"]})
    site.refresh_from_db()
    assert availability(site, at(2, 8)) == {"open": False, "agents_online": 0, "reason": "closed"}
    assert availability(site, at(2, 10)) == {"open": False, "agents_online": 0, "reason": "no_agents"}
    a = agent("a", site)
    set_online(a)
    assert availability(site, at(2, 10)) == {"open": True, "agents_online": 1, "reason": None}
    assert availability(site, at(2, 18)) == {"open": False, "agents_online": 1, "reason": "closed"}


def test_widgets_are_told_when_the_site_opens_or_closes(site):
    Site.objects.filter(pk=site.pk).update(business_hours={"mon": ["09:00", "17:00"]})
    with committed() as sent:
        assert announce_opening_changes(at(2, 9, 0, 5), at(2, 8, 59, 5)) == [site.id]
        assert announce_opening_changes(at(2, 10, 0, 5), at(2, 9, 59, 5)) == []
    assert [f["reason"] for f in frames(sent, "availability", site_visitors_group(site.id))] == ["no_agents"]


# --- left messages ----------------------------------------------------------------------------


@pytest.mark.parametrize("email,phone,code,field", [
    ("", "", "missing_field", "email"),
    ("not-an-email", "", "invalid_field", "email"),
    ("", "call me", "invalid_field", "phone"),
    ("", "12", "invalid_field", "phone"),
])
def test_a_left_message_needs_a_valid_email_or_phone_and_a_bad_one_stores_nothing(site, email, phone, code, field):
    visitor = make_visitor(site)
    with pytest.raises(ActionError) as refused:
        leave_message(visitor, "l1", "Do you ship to Norway?", email, phone)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not LeftMessage.objects.exists()
    assert Visitor.objects.get(pk=visitor.pk).email == ""


def test_a_left_message_waits_for_the_next_agent_online_who_then_sees_it(site):
    visitor = make_visitor(site)
    with committed() as sent:
        left, created = leave_message(visitor, "l1", "Call me about sizes", "", "+47 912 34 567")
    assert created and left.agent_id is None and left.reason == "no_agents"
    assert frames(sent, "left_message")[0]["left_message"]["phone"] == "+47 912 34 567"
    again, created = leave_message(visitor, "l1", "Call me about sizes", "", "+47 912 34 567")
    assert (again.id, created) == (left.id, False)
    assert Visitor.objects.get(pk=visitor.pk).phone == "+47 912 34 567"

    a = agent("a", site)
    profile = socket_opened(AgentProfile.objects.get(user=a))
    left.refresh_from_db()
    assert left.agent_id == a.id
    assert [m["id"] for m in pending_left_messages(profile)] == [left.id]
    done = complete_left_message(a, left.id, "called, ordered")
    assert done.status == LeftMessage.DONE and done.done_by_id == a.id
    assert pending_left_messages(profile) == []


def test_a_left_message_goes_at_once_to_an_online_agent_with_the_fewest_open_ones(site):
    a, b = agent("a", site), agent("b", site)
    set_online(a, last_assigned_at=T0)
    set_online(b, last_assigned_at=T0)
    first, _ = leave_message(make_visitor(site), "x", "one", "one@example.com")
    second, _ = leave_message(make_visitor(site), "y", "two", "two@example.com")
    assert {first.agent_id, second.agent_id} == {a.id, b.id}


def test_completing_a_left_message_of_another_site_is_refused(site):
    from .conftest import make_site

    other = make_site("other-shop")
    left, _ = leave_message(make_visitor(other), "x", "hello", "x@example.com")
    a = agent("a", site)
    with pytest.raises(ActionError) as refused:
        complete_left_message(a, left.id)
    assert refused.value.code == "not_found"
    assert LeftMessage.objects.get(pk=left.id).status == LeftMessage.OPEN


def test_the_huey_minute_task_runs_the_sweep_under_its_lock(site):
    from huey.contrib.djhuey import HUEY

    from chatdesk.tasks.routing import routing_sweep_task

    assert routing_sweep_task.task_class in HUEY._registry._periodic_tasks
    result = routing_sweep_task.call_local()
    assert set(result) == {"offline", "missed", "availability_changed", "routed"}
    # While another worker holds the lock, a second run does not start.
    with HUEY.lock_task("chatdesk-routing-sweep"):
        from huey.exceptions import TaskLockedException

        with pytest.raises(TaskLockedException):
            routing_sweep_task.call_local()
