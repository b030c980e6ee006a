"""Gap-free, unique `seq` when the shopper (two tabs) and the agent write at the same instant, on real PostgreSQL."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from chatdesk.actions.conversations import claim, post_agent_message, post_shopper_message
from chatdesk.models import Message, Visitor

from .conftest import make_agent, make_site

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn, barrier, errors, *args):
    def run():
        try:
            barrier.wait()
            fn(*args)
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()
    return threading.Thread(target=run)


def test_concurrent_senders_get_gap_free_unique_seq():
    site = make_site()
    alice = make_agent("alice", site, capacity=5)
    visitor = Visitor.objects.create(site=site)
    first, _ = post_shopper_message(visitor, "open", "opening")
    claim(alice, first.conversation_id)

    per_sender = 25
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def tab(name):
        for i in range(per_sender):
            post_shopper_message(visitor, f"{name}-{i}", f"{name} {i}")

    def agent():
        for i in range(per_sender):
            post_agent_message(alice, first.conversation_id, f"agent-{i}", f"agent {i}")

    threads = [_in_thread(tab, barrier, errors, "tab1"), _in_thread(tab, barrier, errors, "tab2"),
               _in_thread(agent, barrier, errors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors

    seqs = list(Message.objects.filter(conversation_id=first.conversation_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 1 + 1 + 3 * per_sender))


def test_two_tabs_sending_a_first_message_at_once_open_one_conversation():
    site = make_site()
    visitor = Visitor.objects.create(site=site)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []
    threads = [_in_thread(post_shopper_message, barrier, errors, visitor, f"first-{n}", "hi") for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert visitor.conversations.count() == 1
    assert sorted(Message.objects.values_list("seq", flat=True)) == [1, 2]


def test_the_same_client_id_racing_itself_is_stored_once():
    site = make_site()
    visitor = Visitor.objects.create(site=site)
    barrier = threading.Barrier(4)
    errors: list[Exception] = []
    threads = [_in_thread(post_shopper_message, barrier, errors, visitor, "same", "retry") for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert Message.objects.filter(client_id="same").count() == 1
