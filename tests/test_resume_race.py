"""A message stored while a shopper's `hello` is being answered reaches them: in `welcome`, live, or both, never neither."""
from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

import shopper_widget.consumers as widget_consumers
from chatdesk.actions.conversations import claim, post_agent_message

from .conftest import widget

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_reply_stored_between_reading_the_backlog_and_joining_live_delivery_is_not_lost(site, alice, monkeypatch):
    shopper = await widget()
    token = shopper.welcome["visitor_token"]
    await shopper.send({"type": "message", "client_id": "c1", "text": "hello"})
    conv_id = (await shopper.expect("ack", client_id="c1"))["message"]["conversation_id"]
    await sync_to_async(claim)(alice, conv_id)
    await shopper.close()

    original = widget_consumers._welcome

    def reply_from_another_worker():
        try:
            post_agent_message(alice, conv_id, "a1", "the reply in between")
        finally:
            connection.close()

    def welcome_then_a_reply_lands(site_, token_, last_seq):
        result = original(site_, token_, last_seq)  # the backlog is read...
        # ...then another worker (the agent's socket) stores a reply and announces it at once.
        other = threading.Thread(target=reply_from_another_worker)
        other.start()
        other.join()
        return result

    monkeypatch.setattr(widget_consumers, "_welcome", welcome_then_a_reply_lands)
    again = await widget(token=token, last_seq=1)
    assert [m["seq"] for m in again.welcome["messages"]] == []
    live = await again.expect("message")
    assert (live["message"]["seq"], live["message"]["text"]) == (2, "the reply in between")
    await again.close()
