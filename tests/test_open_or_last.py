"""The conversation a returning shopper's `hello` resumes: the open one first, else the latest, with its agent's name."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from chatdesk.actions.visitors import open_or_last_conversation
from chatdesk.models import Conversation, Visitor

from .conftest import make_agent, make_site

pytestmark = pytest.mark.django_db


def _conv(visitor, status, minutes_ago, agent=None):
    conv = Conversation.objects.create(site=visitor.site, visitor=visitor, status=status, agent=agent,
                                       queued_at=timezone.now())
    Conversation.objects.filter(pk=conv.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))
    return conv


def test_none_without_conversations():
    site = make_site()
    assert open_or_last_conversation(Visitor.objects.create(site=site)) is None


def test_an_older_open_conversation_comes_before_a_newer_closed_one_and_carries_its_agent_name():
    site = make_site()
    alice = make_agent("alice", site, name="Alice A.")
    visitor = Visitor.objects.create(site=site)
    open_one = _conv(visitor, Conversation.ACTIVE, 30, agent=alice)
    _conv(visitor, Conversation.CLOSED, 5)
    _conv(Visitor.objects.create(site=site), Conversation.QUEUED, 1)  # someone else's
    conv = open_or_last_conversation(visitor)
    assert (conv.id, conv.agent_name, conv.status) == (open_one.id, "Alice A.", Conversation.ACTIVE)
    assert conv.site is visitor.site  # no second query for the site


def test_with_only_closed_ones_the_latest_and_no_agent_name_while_unassigned():
    site = make_site()
    visitor = Visitor.objects.create(site=site)
    _conv(visitor, Conversation.CLOSED, 50)
    latest = _conv(visitor, Conversation.CLOSED, 10)
    conv = open_or_last_conversation(visitor)
    assert (conv.id, conv.agent_name) == (latest.id, None)
    queued = _conv(visitor, Conversation.QUEUED, 60)
    assert open_or_last_conversation(visitor).id == queued.id
