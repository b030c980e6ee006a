"""A whole conversation over both sockets, and the rules each frame must keep."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chatdesk.models import Conversation, Message, Note, Visitor

from .conftest import console, make_agent, make_site, widget

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_whole_conversation_from_hello_to_rating(site, alice):
    shopper = await widget()
    assert shopper.welcome["conversation"] is None
    assert shopper.welcome["visitor_token"] and shopper.welcome["visitor_id"]

    agent = await console(alice)
    assert agent.state["agent"]["name"] == "Alice"
    assert agent.state["queue"] == []

    await shopper.send({"type": "cart", "cart": {"currency": "USD", "checkout_step": "shipping", "items": [
        {"sku": "TEE-1", "name": "T-shirt", "quantity": 2, "unit_price": "19.99"}], "shipping": "7.50"}})
    await shopper.send({"type": "message", "client_id": "c1", "text": "Is shipping free?"})
    ack = await shopper.expect("ack")
    assert ack["client_id"] == "c1" and ack["message"]["seq"] == 1 and ack["message"]["sender"] == "shopper"
    conv_id = ack["message"]["conversation_id"]
    queue = await shopper.expect("queue")
    assert queue["position"] == 1 and queue["conversation_id"] == conv_id

    queued = await agent.expect("queue")
    assert [c["id"] for c in queued["queue"]] == [conv_id]
    summary = queued["queue"][0]
    assert summary["cart_total"] == "47.48" and summary["checkout_step"] == "shipping"
    assert summary["status"] == "queued" and summary["waiting_since"]

    await agent.send({"type": "claim", "conversation_id": conv_id})
    detail = await agent.expect("detail")
    assert [m["text"] for m in detail["messages"]] == ["Is shipping free?"]
    assigned = await shopper.expect("assigned")
    assert assigned["agent"] == {"name": "Alice"}

    await agent.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "Yes, over $75."})
    agent_ack = await agent.expect("ack", client_id="a1")
    reply = await shopper.expect("message")
    assert reply["message"] == agent_ack["message"]
    assert reply["message"]["seq"] == 2 and reply["message"]["sender"] == "agent" and reply["message"]["author"] == "Alice"

    await agent.send({"type": "close", "conversation_id": conv_id, "reason": "extra_costs", "note": "asked about shipping"})
    closed = await shopper.expect("closed")
    assert closed == {"type": "closed", "conversation_id": conv_id, "reason": "extra_costs"}

    await shopper.send({"type": "rate", "score": 5, "comment": "quick!"})
    await shopper.expect("rated")
    conv = await sync_to_async(Conversation.objects.get)(pk=conv_id)
    assert (conv.status, conv.close_reason, conv.rating) == ("closed", "extra_costs", 5)
    await shopper.close()
    await agent.close()


async def test_ack_comes_after_the_message_is_stored(site):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "m-1", "text": "hello"})
    ack = await shopper.expect("ack")
    stored = await sync_to_async(Message.objects.get)(pk=ack["message"]["id"])
    assert (stored.seq, stored.text, stored.client_id) == (1, "hello", "m-1")
    await shopper.close()


async def test_same_client_id_again_returns_the_same_ack_and_stores_once(site):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "dup", "text": "once"})
    first = await shopper.expect("ack")
    await shopper.send({"type": "message", "client_id": "dup", "text": "once"})
    second = await shopper.expect("ack")
    assert first == second
    assert await sync_to_async(Message.objects.filter(client_id="dup").count)() == 1
    await shopper.close()


async def test_a_retry_from_another_socket_of_the_same_visitor_is_not_stored_twice(site):
    first_tab = await widget()
    await first_tab.send({"type": "message", "client_id": "x1", "text": "hi"})
    ack = await first_tab.expect("ack")
    second_tab = await widget(token=first_tab.welcome["visitor_token"])
    await second_tab.send({"type": "message", "client_id": "x1", "text": "hi"})
    assert (await second_tab.expect("ack"))["message"] == ack["message"]
    assert await sync_to_async(Message.objects.count)() == 1
    await first_tab.close()
    await second_tab.close()


async def test_hello_with_last_seq_returns_exactly_the_missed_messages(site):
    shopper = await widget()
    token = shopper.welcome["visitor_token"]
    for i in range(1, 6):
        await shopper.send({"type": "message", "client_id": f"c{i}", "text": f"m{i}"})
        await shopper.expect("ack", client_id=f"c{i}")
    await shopper.close()

    again = await widget(token=token, last_seq=3)
    assert again.welcome["visitor_id"] == shopper.welcome["visitor_id"]
    assert [m["seq"] for m in again.welcome["messages"]] == [4, 5]
    assert [m["text"] for m in again.welcome["messages"]] == ["m4", "m5"]
    await again.close()

    # A cursor from the future is not trusted: full resync.
    ahead = await widget(token=token, last_seq=99)
    assert [m["seq"] for m in ahead.welcome["messages"]] == [1, 2, 3, 4, 5]
    assert ahead.welcome.get("resync") is True
    await ahead.close()


async def test_console_sync_replays_missed_messages_in_order(site, alice):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "one"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    for i in range(2, 5):
        await shopper.send({"type": "message", "client_id": f"c{i}", "text": f"m{i}"})
        await shopper.expect("ack", client_id=f"c{i}")
    await agent.drain()
    await agent.send({"type": "sync", "conversation_id": conv_id, "last_seq": 2})
    replayed = [await agent.expect("message"), await agent.expect("message")]
    assert [f["message"]["seq"] for f in replayed] == [3, 4]
    done = await agent.expect("synced")
    assert done["last_seq"] == 4
    await shopper.close()
    await agent.close()


async def test_forged_or_tampered_token_becomes_a_new_visitor(site):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "private"})
    await shopper.expect("ack")
    token = shopper.welcome["visitor_token"]
    await shopper.close()

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "not-a-token", "x" * 500):
        other = await widget(token=bad)
        assert other.welcome["visitor_id"] != shopper.welcome["visitor_id"]
        assert other.welcome["messages"] == [] and other.welcome["conversation"] is None
        await other.close()


async def test_a_token_of_another_site_is_not_accepted(site):
    await sync_to_async(make_site)("other-shop")
    shopper = await widget()
    other = await widget(site_key="other-shop", token=shopper.welcome["visitor_token"])
    assert other.welcome["visitor_id"] != shopper.welcome["visitor_id"]
    await shopper.close()
    await other.close()


async def test_unknown_site_or_foreign_origin_is_refused_at_the_handshake(site):
    from chatdesk.asgi import application

    for path, origin in (("/ws/widget/nope/", "http://localhost:8000"),
                         ("/ws/widget/demo-store/", "https://evil.example"),
                         ("/ws/widget/demo-store/", "http://localhost.evil.example:8000")):
        communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])
        connected, _ = await communicator.connect()
        assert not connected, (path, origin)
        await communicator.disconnect()
    communicator = WebsocketCommunicator(application, "/ws/widget/demo-store/")
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_console_refuses_anonymous_users_and_non_agents(site):
    from django.contrib.auth import get_user_model

    from chatdesk.asgi import application

    from .conftest import session_cookie

    communicator = WebsocketCommunicator(application, "/ws/console/")
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()

    shopper_user = await sync_to_async(get_user_model().objects.create_user)("mallory", password="x")
    cookie = await sync_to_async(session_cookie)(shopper_user)
    communicator = WebsocketCommunicator(application, "/ws/console/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"hello"', "invalid_frame"),
    ('{"no_type": 1}', "invalid_frame"),
    ('{"type": 7}', "invalid_frame"),
    ('{"type": "launch_missiles"}', "unknown_type"),
    ('{"type": "message", "text": "hi"}', "missing_field"),
    ('{"type": "message", "client_id": "c", "text": 5}', "invalid_field"),
    ('{"type": "message", "client_id": "", "text": "hi"}', "invalid_field"),
    ('{"type": "message", "client_id": "' + "c" * 65 + '", "text": "hi"}', "invalid_field"),
    ('{"type": "message", "client_id": "c", "text": ""}', "invalid_field"),
    ('{"type": "message", "client_id": "c", "text": "' + "x" * 4001 + '"}', "text_too_long"),
    ('{"type": "rate", "score": 6}', "invalid_field"),
    ('{"type": "typing", "active": "yes"}', "invalid_field"),
    ('{"type": "cart", "cart": {"items": [{"sku": "A", "quantity": -1, "unit_price": "1.00"}]}}', "invalid_field"),
    ('{"type": "cart", "cart": {"currency": "dollars"}}', "invalid_field"),
    ('{"type": "cart", "cart": {"total": 12.5}}', "invalid_field"),
    ('{"type": "offer_response", "offer_id": 999, "accepted": true}', "not_found"),
]


@pytest.mark.parametrize("raw,code", BAD_FRAMES)
async def test_a_bad_shopper_frame_gets_an_error_and_stores_nothing(site, raw, code):
    shopper = await widget()
    await shopper.c.send_to(text_data=raw)
    error = await shopper.expect("error")
    assert error["code"] == code and error["detail"]
    # The socket is still open and working.
    await shopper.send({"type": "ping"})
    await shopper.expect("pong")
    assert await sync_to_async(Message.objects.count)() == 0
    assert await sync_to_async(Conversation.objects.count)() == 0
    await shopper.close()


async def test_an_error_names_the_client_id_of_the_refused_frame(site):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "too-long", "text": "y" * 4001})
    error = await shopper.expect("error")
    assert error["client_id"] == "too-long" and error["code"] == "text_too_long"
    await shopper.close()


async def test_frames_before_hello_are_refused(site):
    shopper = await widget(hello=False)
    await shopper.send({"type": "message", "client_id": "c", "text": "hi"})
    assert (await shopper.expect("error"))["code"] == "hello_required"
    await shopper.close()


async def test_more_than_the_burst_of_frames_is_rate_limited_and_the_socket_stays_open(site):
    from unittest import mock

    from shopper_widget.consumers import WidgetConsumer

    # Refill slowed to almost nothing so the count does not depend on how fast this machine is.
    with mock.patch.object(WidgetConsumer, "rate", 0.001):
        shopper = await widget()
        for i in range(30):
            await shopper.send({"type": "ping"})
        frames = await shopper.drain(0.5)
    limited = [f for f in frames if f.get("type") == "error" and f["code"] == "rate_limited"]
    pongs = [f for f in frames if f.get("type") == "pong"]
    # The hello took one token of the burst of 20.
    assert (len(pongs), len(limited)) == (19, 11)
    assert limited[0]["detail"].startswith("too many frames")
    await shopper.close()


async def _pings_queued_behind_a_slow_frame(make_socket, consumer_class):
    """One slow frame (1.2 s), then three pings 0.3 s apart while it runs; rate 5/s (a token every 0.2 s), burst 1."""
    import asyncio
    from unittest import mock

    real_ping = consumer_class.frame_ping
    calls = []

    async def ping_slowly_the_first_time(self, frame):
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(1.2)
        await real_ping(self, frame)

    with mock.patch.object(consumer_class, "rate", 5.0), mock.patch.object(consumer_class, "burst", 1.0), \
            mock.patch.object(consumer_class, "frame_ping", ping_slowly_the_first_time):
        sock = await make_socket()
        await asyncio.sleep(0.3)  # the hello (shopper) took the one token: let it refill
        await sock.send({"type": "ping"})
        for _ in range(3):
            await asyncio.sleep(0.3)
            await sock.send({"type": "ping"})
        frames = await sock.drain(1.5)
    await sock.close()
    return [f.get("code") or f["type"] for f in frames if f["type"] in ("pong", "error")]


async def test_console_frames_count_against_the_rate_when_they_arrive_not_when_a_slow_frame_lets_them_through(alice):
    from agents.consumers import ConsoleConsumer

    # Slower than the 5 a second allowed, so none is refused, though all three are read at once after 1.2 s.
    assert await _pings_queued_behind_a_slow_frame(lambda: console(alice), ConsoleConsumer) == ["pong"] * 4


async def test_shopper_frames_count_when_read_so_the_same_backlog_is_refused_there(site):
    from shopper_widget.consumers import WidgetConsumer

    # The widget keeps the cheaper rule (no task per socket); its own pacing stays well under the limit.
    got = await _pings_queued_behind_a_slow_frame(widget, WidgetConsumer)
    assert got.count("rate_limited") == 2 and got.count("pong") == 2


async def test_a_frame_over_64_kib_closes_the_socket_with_1009(site):
    shopper = await widget()
    await shopper.c.send_to(text_data='{"type": "page", "url": "' + "u" * (65 * 1024) + '"}')
    closed = await shopper.c.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 1009}
    await shopper.c.disconnect()


async def test_card_numbers_are_masked_before_they_are_stored_or_delivered(site):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "card",
                        "text": "my card 4242 4242 4242 4242 and 5555-5555-5555-4444, order 1234567890123"})
    ack = await shopper.expect("ack")
    text = ack["message"]["text"]
    assert "4242 4242 4242 4242" not in text and "5555-5555-5555-4444" not in text
    assert text == "my card **** **** **** 4242 and **** **** **** 4444, order 1234567890123"
    stored = await sync_to_async(Message.objects.get)(pk=ack["message"]["id"])
    assert stored.text == text
    await shopper.close()


async def test_only_the_assigned_agent_may_post_and_notes_never_reach_the_shopper(site, alice, bob):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "help"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    a, b = await console(alice), await console(bob)

    await b.send({"type": "message", "conversation_id": conv_id, "client_id": "b0", "text": "queued, not mine"})
    assert (await b.expect("error"))["code"] == "not_assigned"

    await a.send({"type": "claim", "conversation_id": conv_id})
    await a.expect("detail")
    await b.send({"type": "message", "conversation_id": conv_id, "client_id": "b1", "text": "hijack"})
    err = await b.expect("error")
    assert err["code"] == "not_assigned" and err["client_id"] == "b1"

    await a.send({"type": "note", "conversation_id": conv_id, "client_id": "n1", "text": "VIP, be nice"})
    assert (await a.expect("ack", client_id="n1"))["note"]["text"] == "VIP, be nice"
    await a.send({"type": "message", "conversation_id": conv_id, "client_id": "a1", "text": "Hello!"})
    await a.expect("ack", client_id="a1")
    seen = await shopper.drain(0.5)
    assert not any("VIP" in str(f) for f in seen)
    assert [f["message"]["text"] for f in seen if f["type"] == "message"] == ["Hello!"]
    assert await sync_to_async(Note.objects.count)() == 1
    assert await sync_to_async(lambda: list(Message.objects.values_list("seq", flat=True)))() == [1, 2]
    for s in (shopper, a, b):
        await s.close()


async def test_an_agent_of_another_site_cannot_claim_or_see_the_conversation(site, alice):
    other = await sync_to_async(make_site)("other-shop")
    eve = await sync_to_async(make_agent)("eve", other)
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "help"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    e = await console(eve)
    assert e.state["queue"] == []
    for frame in ({"type": "claim", "conversation_id": conv_id},
                  {"type": "open", "conversation_id": conv_id},
                  {"type": "sync", "conversation_id": conv_id, "last_seq": 0},
                  {"type": "note", "conversation_id": conv_id, "client_id": "n", "text": "x"}):
        await e.send(frame)
        assert (await e.expect("error"))["code"] == "forbidden", frame
    assert not any(f.get("type") == "queue" and f["queue"] for f in await e.drain(0.3))
    await shopper.close()
    await e.close()


async def test_two_racing_claims_have_exactly_one_winner(site, alice, bob):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "help"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    a, b = await console(alice), await console(bob)
    await a.send({"type": "claim", "conversation_id": conv_id})
    await b.send({"type": "claim", "conversation_id": conv_id})
    results = []
    for sock in (a, b):
        while True:
            frame = await sock.recv()
            if frame["type"] in ("detail", "error"):
                results.append(frame)
                break
    assert sorted(f["type"] for f in results) == ["detail", "error"]
    assert [f["code"] for f in results if f["type"] == "error"] == ["already_assigned"]
    for s in (shopper, a, b):
        await s.close()


async def test_two_tabs_of_one_shopper_stay_in_step(site, alice):
    tab1 = await widget()
    tab2 = await widget(token=tab1.welcome["visitor_token"])
    await tab1.send({"type": "message", "client_id": "t1", "text": "from tab one"})
    ack = await tab1.expect("ack")
    echoed = await tab2.expect("message")
    assert echoed["message"] == ack["message"]
    # The sender gets its ack, not a second copy.
    assert not [f for f in await tab1.drain(0.3) if f["type"] == "message"]
    await tab1.close()
    await tab2.close()


async def test_shopper_typing_reaches_the_agent_and_is_not_stored(site, alice):
    shopper = await widget()
    await shopper.send({"type": "message", "client_id": "c1", "text": "hi"})
    conv_id = (await shopper.expect("ack"))["message"]["conversation_id"]
    agent = await console(alice)
    await agent.send({"type": "claim", "conversation_id": conv_id})
    await agent.expect("detail")
    await shopper.send({"type": "typing", "active": True})
    typing = await agent.expect("typing")
    assert typing["conversation_id"] == conv_id and typing["active"] is True
    await agent.send({"type": "typing", "conversation_id": conv_id, "active": True})
    assert (await shopper.expect("typing"))["active"] is True
    assert await sync_to_async(Message.objects.count)() == 1
    await shopper.close()
    await agent.close()


async def test_page_frames_track_the_journey(site):
    shopper = await widget()
    await shopper.send({"type": "page", "url": "http://localhost:8000/checkout", "title": "Checkout", "checkout_step": "payment"})
    await shopper.send({"type": "ping"})
    await shopper.expect("pong")
    visitor = await sync_to_async(Visitor.objects.get)(public_id=shopper.welcome["visitor_id"])
    assert visitor.checkout_step == "payment" and visitor.current_url.endswith("/checkout")
    assert await sync_to_async(visitor.page_views.count)() == 1
    await shopper.close()


async def test_presence_frames_set_the_agent_away_and_back(site, alice):
    agent = await console(alice)
    assert agent.state["agent"]["presence"] == "online"
    await agent.send({"type": "presence", "status": "away"})
    assert (await agent.expect("presence", status="away"))["status"] == "away"
    await agent.send({"type": "presence", "status": "online"})
    assert (await agent.expect("presence", status="online"))["status"] == "online"
    await agent.close()


async def test_message_text_is_stored_as_typed_never_rendered(site):
    shopper = await widget()
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    await shopper.send({"type": "message", "client_id": "xss", "text": payload})
    assert (await shopper.expect("ack"))["message"]["text"] == payload
    await shopper.close()


def test_token_bucket_allows_ten_a_second_sustained_with_bursts_of_twenty():
    from chatdesk.sockets import TokenBucket

    now = [0.0]
    bucket = TokenBucket(10, 20, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(25)) == 20
    now[0] += 1.0
    assert sum(bucket.take() for _ in range(25)) == 10
    allowed = 0
    for _ in range(100):  # 10 seconds at 10 frames/s: all allowed
        now[0] += 0.1
        allowed += bucket.take()
    assert allowed == 100


def test_events_of_a_rolled_back_transaction_are_never_sent_and_committed_ones_go_together(site):
    from unittest import mock

    from django.db import transaction

    from chatdesk import events

    sent = []

    async def fake_publish(batch):
        sent.append(list(batch))

    with mock.patch.object(events, "publish", fake_publish):
        try:
            with transaction.atomic():
                events.emit("g", {"type": "one"})
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with transaction.atomic():
            events.emit("g", {"type": "two"})
            events.emit("h", {"type": "three"})
            assert sent == []  # nothing before commit
        events.emit("g", {"type": "four"})  # autocommit: at once
    assert [[g for g, _ in batch] for batch in sent] == [["g", "h"], ["g"]]
    assert '"one"' not in str(sent)
