"""Automatic assignment, what triggers it, capacity, transfers and what the reports can count."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.models import AgentProfile, Team
from agents.presence import set_presence
from chatdesk.actions.assignment import auto_assign, best_agent
from chatdesk.actions.conversations import claim, close, post_shopper_message, transfer
from chatdesk.errors import ActionError
from chatdesk.events import agent_group, visitor_group
from chatdesk.models import Assignment, Conversation, Message, Note, Site

from .routing_support import T0, agent, committed, frames, make_active, make_visitor, make_waiting, set_online

pytestmark = pytest.mark.django_db


@pytest.fixture
def auto_site(site):
    Site.objects.filter(pk=site.pk).update(routing_mode=Site.ROUTING_AUTO)
    site.refresh_from_db()
    return site


def test_the_agent_with_most_spare_capacity_wins_and_ties_go_to_the_longest_since_last_assignment(auto_site):
    a = agent("a", auto_site, capacity=3)
    b = agent("b", auto_site, capacity=2)
    c = agent("c", auto_site, capacity=5)
    set_online(a, last_assigned_at=T0)
    set_online(b, last_assigned_at=None)
    set_online(c, last_assigned_at=T0 - timedelta(hours=1))
    make_active(auto_site, a)
    for _ in range(4):
        make_active(auto_site, c)
    # Spare: a 2, b 2, c 1. a and b tie; b was never assigned, so b has waited longest.
    first, second, third = (make_waiting(auto_site, queued_at=T0 + timedelta(seconds=i)) for i in range(3))
    made = auto_assign(auto_site)
    assert [(conv.id, conv.agent_id) for conv in made] == [(first.id, b.id), (second.id, a.id), (third.id, c.id)]
    # Spare now: a 1 (last assigned just now), b 1 (just before a), c 0.
    fourth = make_waiting(auto_site)
    assert [conv.agent_id for conv in auto_assign(auto_site)] == [b.id]
    assert Conversation.objects.get(pk=fourth.id).agent_id == b.id


def test_best_agent_orders_by_spare_then_last_assignment_then_id():
    class P:
        def __init__(self, pk, capacity, last):
            self.pk, self.user_id, self.capacity, self.last_assigned_at = pk, pk, capacity, last

    x, y, z = P(1, 3, T0), P(2, 3, T0 - timedelta(minutes=1)), P(3, 2, None)
    assert best_agent([x, y, z], {}) is y
    assert best_agent([x, y, z], {2: 1}) is x
    assert best_agent([P(5, 1, None), P(4, 1, None)], {}).pk == 4
    assert best_agent([], {}) is None


def test_automatic_assignment_takes_the_highest_priority_first_and_respects_teams(auto_site):
    high = Team.objects.create(site=auto_site, name="High value", min_cart_value=Decimal("500.00"))
    general_agent = agent("g", auto_site, capacity=1)
    set_online(general_agent)
    big = make_waiting(auto_site, total="900.00", queued_at=T0)
    small = make_waiting(auto_site, total="20.00", queued_at=T0 + timedelta(seconds=5))
    made = auto_assign(auto_site)
    # The big cart waits in High value, which the only agent is not part of.
    assert [(c.id, c.agent_id) for c in made] == [(small.id, general_agent.id)]
    member = agent("h", auto_site, capacity=1, teams=[high])
    set_online(member)
    assert [(c.id, c.agent_id) for c in auto_assign(auto_site)] == [(big.id, member.id)]


def test_manual_sites_are_never_assigned_automatically(site):
    a = agent("a", site)
    set_online(a)
    conv = make_waiting(site)
    with committed():
        set_presence(AgentProfile.objects.get(user=a), AgentProfile.ONLINE)
    assert Conversation.objects.get(pk=conv.id).status == Conversation.QUEUED


def test_away_agents_get_nothing_automatically(auto_site):
    a = agent("a", auto_site)
    set_online(a, presence=AgentProfile.AWAY)
    make_waiting(auto_site)
    assert auto_assign(auto_site) == []


def test_a_new_conversation_is_assigned_after_commit_and_the_shopper_told(auto_site):
    a = agent("a", auto_site)
    set_online(a)
    visitor = make_visitor(auto_site)
    with committed() as sent:
        msg, _ = post_shopper_message(visitor, "c1", "hello?")
    conv = Conversation.objects.get(pk=msg.conversation_id)
    assert (conv.status, conv.agent_id) == (Conversation.ACTIVE, a.id)
    assert frames(sent, "assigned", visitor_group(visitor.public_id))[0]["agent"] == {"name": "A"}
    assert Assignment.objects.get(conversation=conv).kind == Assignment.AUTO


def test_an_agent_coming_online_gets_waiting_conversations_up_to_capacity(auto_site):
    a = agent("a", auto_site, capacity=2)
    waiting = [make_waiting(auto_site, queued_at=T0 + timedelta(seconds=i)) for i in range(3)]
    with committed() as sent:
        set_presence(AgentProfile.objects.get(user=a), AgentProfile.ONLINE)
    statuses = [Conversation.objects.get(pk=c.id).status for c in waiting]
    assert statuses == [Conversation.ACTIVE, Conversation.ACTIVE, Conversation.QUEUED]
    # The one left waiting is told its new place: first.
    last = frames(sent, "queue", visitor_group(waiting[2].visitor.public_id))[-1]
    assert last["position"] == 1 and last["agents_online"] == 1


def test_closing_frees_a_slot_that_the_next_waiting_conversation_fills(auto_site):
    a = agent("a", auto_site, capacity=1)
    set_online(a)
    held = make_active(auto_site, a)
    nxt = make_waiting(auto_site)
    with committed():
        close(a, held.id, "other")
    assert Conversation.objects.get(pk=nxt.id).agent_id == a.id
    assert Assignment.objects.get(conversation=held).end_reason == Assignment.CLOSED


def test_raising_capacity_in_the_admin_assigns_more(auto_site):
    a = agent("a", auto_site, capacity=1)
    set_online(a)
    make_active(auto_site, a)
    nxt = make_waiting(auto_site)
    auto_assign(auto_site)
    assert Conversation.objects.get(pk=nxt.id).status == Conversation.QUEUED
    profile = AgentProfile.objects.get(user=a)
    profile.capacity = 2
    with committed():
        profile.save()
    assert Conversation.objects.get(pk=nxt.id).agent_id == a.id


def test_joining_a_team_in_the_admin_routes_that_queue_to_the_agent(auto_site):
    high = Team.objects.create(site=auto_site, name="High value", min_cart_value=Decimal("500.00"))
    a = agent("a", auto_site)
    set_online(a)
    big = make_waiting(auto_site, total="700.00")
    with committed() as sent:
        AgentProfile.objects.get(user=a).teams.add(high)
    assert Conversation.objects.get(pk=big.id).agent_id == a.id
    assert (agent_group(a.id), {"type": "console.regroup"}) in sent


def test_claim_never_exceeds_capacity(site):
    a = agent("a", site, capacity=2)
    convs = [make_waiting(site) for _ in range(3)]
    claim(a, convs[0].id)
    claim(a, convs[1].id)
    with pytest.raises(ActionError) as refused:
        claim(a, convs[2].id)
    assert refused.value.code == "over_capacity"
    assert Conversation.objects.get(pk=convs[2].id).status == Conversation.QUEUED
    assert Assignment.objects.filter(agent=a).count() == 2


def test_a_missed_conversation_cannot_be_claimed(site):
    a = agent("a", site)
    conv = make_waiting(site)
    Conversation.objects.filter(pk=conv.pk).update(status=Conversation.MISSED)
    with pytest.raises(ActionError) as refused:
        claim(a, conv.id)
    assert refused.value.code == "conversation_closed"


def test_wait_and_over_target_are_stored_when_a_conversation_leaves_the_queue(site):
    Site.objects.filter(pk=site.pk).update(target_wait_seconds=60)
    a = agent("a", site)
    now = timezone.now()
    quick = make_waiting(site, queued_at=now - timedelta(seconds=20))
    slow = make_waiting(site, queued_at=now - timedelta(seconds=200))
    claim(a, quick.id)
    claim(a, slow.id)
    quick, slow = Conversation.objects.get(pk=quick.id), Conversation.objects.get(pk=slow.id)
    assert 19 <= quick.wait_seconds <= 25 and not quick.over_target
    assert 199 <= slow.wait_seconds <= 205 and slow.over_target
    # Closed unanswered: the wait still counts.
    gone = make_waiting(site, queued_at=now - timedelta(seconds=90))
    close(a, gone.id, "just_browsing")
    gone = Conversation.objects.get(pk=gone.id)
    assert gone.over_target and gone.wait_seconds >= 90


def test_transfer_to_an_agent_keeps_history_and_cart_and_records_both_stretches(site):
    a, b = agent("a", site), agent("b", site)
    set_online(b)
    conv = make_waiting(site, total="80.00")
    claim(a, conv.id)
    Message.objects.create(conversation=conv, seq=1, sender="shopper", text="hi", created_at=timezone.now())
    with committed() as sent:
        moved = transfer(a, conv.id, to_agent="b", note="knows returns")
    assert (moved.agent_id, moved.status, moved.cart_id) == (b.id, Conversation.ACTIVE, conv.cart_id)
    assert list(moved.messages.values_list("text", flat=True)) == ["hi"]
    stretches = list(Assignment.objects.filter(conversation=conv).values_list("agent_id", "kind", "end_reason"))
    assert stretches == [(a.id, "claim", "transferred"), (b.id, "transfer", "")]
    assert Note.objects.get(conversation=conv).text == "Transferred by A to B: knows returns"
    assert frames(sent, "assigned", visitor_group(conv.visitor.public_id))[0]["agent"] == {"name": "B"}


@pytest.mark.parametrize("target,code", [("nobody", "not_found"), ("a", "invalid_field"), ("off", "agent_offline"),
                                         ("full", "over_capacity"), (True, "invalid_field")])
def test_a_refused_transfer_changes_nothing(site, target, code):
    a = agent("a", site)
    agent("off", site)
    full = agent("full", site, capacity=1)
    set_online(full)
    make_active(site, full)
    conv = make_waiting(site)
    claim(a, conv.id)
    with pytest.raises(ActionError) as refused:
        transfer(a, conv.id, to_agent=target)
    assert refused.value.code == code
    conv.refresh_from_db()
    assert (conv.agent_id, conv.status) == (a.id, Conversation.ACTIVE)
    assert Assignment.objects.filter(conversation=conv, ended_at__isnull=True).count() == 1
    assert not Note.objects.filter(conversation=conv).exists()


def test_transfer_to_a_queue_puts_it_at_the_head_of_that_queue_and_pins_it(site):
    returns = Team.objects.create(site=site, name="Returns")
    a = agent("a", site)
    big = make_waiting(site, total="5000.00", pinned_team=returns)
    conv = make_waiting(site, total="10.00")
    claim(a, conv.id)
    with committed() as sent:
        moved = transfer(a, conv.id, to_queue="Returns")
    assert (moved.status, moved.agent_id, moved.team_id, moved.team_pinned) == ("queued", None, returns.id, True)
    assert moved.priority_key > Conversation.objects.get(pk=big.id).priority_key
    texts = [f["message"]["text"] for f in frames(sent, "message", visitor_group(conv.visitor.public_id))]
    assert texts and "colleague" in texts[0]
    assert Assignment.objects.get(conversation=conv).end_reason == Assignment.REQUEUED
    with pytest.raises(ActionError) as refused:
        transfer(a, conv.id, to_queue="Nope")
    assert refused.value.code == "not_found"
    # Back to the general queue by name.
    assert transfer(a, conv.id, to_queue="general").team_id is None


def test_only_the_assigned_agent_may_transfer_an_active_conversation(site):
    a, b = agent("a", site), agent("b", site)
    conv = make_waiting(site)
    claim(a, conv.id)
    with pytest.raises(ActionError) as refused:
        transfer(b, conv.id, to_queue="general")
    assert refused.value.code == "not_assigned"


def test_conversations_past_the_target_wait_are_counted_in_the_reports(site):
    from chatdesk.reports.metrics import summary
    from chatdesk.reports.scope import parse_scope

    Site.objects.filter(pk=site.pk).update(target_wait_seconds=60)
    a = agent("a", site)
    now = timezone.now()
    claim(a, make_waiting(site, queued_at=now - timedelta(seconds=10)).id)
    claim(a, make_waiting(site, queued_at=now - timedelta(seconds=300)).id)
    close(a, make_waiting(site, queued_at=now - timedelta(seconds=120)).id, "just_browsing")
    make_waiting(site, queued_at=now - timedelta(seconds=500))  # still waiting: not counted until its wait ends
    got = summary(parse_scope({"from": (now - timedelta(days=1)).date().isoformat(), "to": now.date().isoformat()}))
    assert (got["conversations"], got["over_target"], got["over_target_rate"]) == (4, 2, 0.5)
