"""The one-statement message path on PostgreSQL keeps every rule of the ORM path: seq, idempotency, who may post, events."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from chatdesk import events
from chatdesk.actions import fast_append
from chatdesk.actions.conversations import claim, close, post_agent_message, post_shopper_message
from chatdesk.errors import ActionError
from chatdesk.models import Conversation, Message, Visitor

from .conftest import make_agent, make_site

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _collect(fn, *args):
    with events.collecting() as bucket:
        result = fn(*args)
    return result, [(g, events_text(e)) for g, e in bucket]


def events_text(event):
    import orjson

    frame = orjson.loads(event["text"])
    frame.get("message", {}).pop("created_at", None)
    frame.get("message", {}).pop("id", None)
    return frame, event.get("skip_origin", False)


def _claimed_conversation():
    site = make_site()
    alice = make_agent("alice", site)
    visitor = Visitor.objects.create(site=site)
    first, _ = post_shopper_message(visitor, "open", "opening")
    claim(alice, first.conversation_id)
    return site, alice, visitor, first.conversation_id


def test_the_fast_path_stores_and_emits_exactly_what_the_orm_path_does(monkeypatch):
    _, alice, visitor, conv_id = _claimed_conversation()
    assert fast_append.available()
    (fast_msg, _), fast_events = _collect(post_shopper_message, visitor, "fast", "same words", conv_id)
    (fast_reply, _), fast_reply_events = _collect(post_agent_message, alice, conv_id, "fast-a", "reply")
    monkeypatch.setattr(fast_append, "available", lambda: False)
    (orm_msg, _), orm_events = _collect(post_shopper_message, visitor, "orm", "same words", conv_id)
    (orm_reply, _), orm_reply_events = _collect(post_agent_message, alice, conv_id, "orm-a", "reply")

    assert [fast_msg.seq, fast_reply.seq, orm_msg.seq, orm_reply.seq] == [2, 3, 4, 5]
    stored = Message.objects.get(pk=fast_reply.id)
    assert (stored.author_id, stored.author_name, stored.seq) == (alice.id, "Alice", 3)
    assert Conversation.objects.get(pk=conv_id).first_agent_message_at is not None

    def same(a, b, fast_cid, orm_cid, seq_gap):
        assert len(a) == len(b)
        for (ga, (fa, sa)), (gb, (fb, sb)) in zip(a, b):
            assert ga == gb and sa == sb
            fa["message"]["client_id"] = orm_cid
            fa["message"]["seq"] += seq_gap
            assert fa == fb

    same(fast_events, orm_events, "fast", "orm", 2)
    same(fast_reply_events, orm_reply_events, "fast-a", "orm-a", 2)


def test_a_retry_through_the_fast_path_returns_the_first_message_and_uses_no_seq():
    _, alice, visitor, conv_id = _claimed_conversation()
    first, created = post_shopper_message(visitor, "twice", "hello", conv_id)
    again, created_again = post_shopper_message(visitor, "twice", "hello", conv_id)
    assert created and not created_again and (again.id, again.seq) == (first.id, first.seq)
    reply, _ = post_agent_message(alice, conv_id, "a-twice", "hi")
    reply_again, created_reply = post_agent_message(alice, conv_id, "a-twice", "hi")
    assert not created_reply and reply_again.id == reply.id
    assert list(Message.objects.filter(conversation_id=conv_id).values_list("seq", flat=True)) == [1, 2, 3]


def test_a_stale_conversation_hint_opens_a_new_conversation_as_the_orm_path_would():
    _, alice, visitor, conv_id = _claimed_conversation()
    close(alice, conv_id, "product_question")
    msg, created = post_shopper_message(visitor, "after-close", "one more thing", conv_id)
    assert created and msg.conversation_id != conv_id and msg.seq == 1
    assert Conversation.objects.get(pk=msg.conversation_id).status == Conversation.QUEUED


def test_the_fast_path_refuses_what_the_orm_path_refuses_and_uses_no_seq():
    site, alice, visitor, conv_id = _claimed_conversation()
    bob = make_agent("bob", site)
    with pytest.raises(ActionError) as err:
        post_agent_message(bob, conv_id, "b1", "not mine")
    assert err.value.code == "not_assigned"
    alice.agent_profile.sites.clear()
    with pytest.raises(ActionError) as err:
        post_agent_message(alice, conv_id, "a1", "no longer serving this site")
    assert err.value.code == "forbidden"
    other = Visitor.objects.create(site=site)
    msg, _ = post_shopper_message(other, "x", "someone else's hint", conv_id)
    assert msg.conversation_id != conv_id
    assert Conversation.objects.get(pk=conv_id).last_seq == 1


def test_racing_retries_with_a_hint_store_once_and_keep_seq_gap_free():
    _, alice, visitor, conv_id = _claimed_conversation()
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def sender(n):
        try:
            barrier.wait()
            for i in range(15):
                post_shopper_message(visitor, f"same-{i}", f"retry {i}", conv_id)
                post_agent_message(alice, conv_id, f"agent-{n}-{i}", f"agent {n} {i}")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    seqs = list(Message.objects.filter(conversation_id=conv_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 2 + 15 + 4 * 15))  # the opening message, 15 shopper, 60 agent
    assert Message.objects.filter(client_id__startswith="same-").count() == 15
