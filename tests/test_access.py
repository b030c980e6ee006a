"""Who may do what: tables of actors against every page, endpoint and socket frame, each cell asserted.

To cover a new endpoint or frame, add one row: the row must name an outcome
for every actor, so nobody is forgotten. HTTP outcomes are status codes
(`LOGIN` is a redirect to a login page); socket outcomes are `"ok"` or the
`error` code the frame must get.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from chatdesk.models import Cart, Conversation, Message, Note, Offer

from .conftest import console, make_agent, make_site, widget

LOGIN = "login"
HTTP_ACTORS = ("anonymous", "shopper_a", "shopper_b", "agent_site1", "agent_site2", "supervisor",
               "api_key_site1", "staff_token")


@dataclass
class World:
    site1: object
    site2: object
    alice: object  # agent of site 1
    bob: object  # another agent of site 1
    carol: object  # agent of site 2
    sam: object  # supervisor
    visitor_a: object
    visitor_b: object
    token_a: str
    token_b: str
    conv_a: object  # A's conversation, assigned to alice
    conv_site2: object
    offer_a: object
    extra: dict = field(default_factory=dict)


def build_world() -> World:
    from chatdesk.actions import conversations, offers
    from chatdesk.actions.visitors import make_visitor_token
    from chatdesk.models import Product, Visitor
    from chatdesk.permissions import sync_groups

    site1 = make_site()
    site2 = make_site("other-store")
    Product.objects.create(site=site1, sku="TEE-1", name="T-shirt", price="19.99")
    alice, bob, carol = make_agent("alice", site1, 1000), make_agent("bob", site1), make_agent("carol", site2)
    supervisors, _ = sync_groups()
    sam = get_user_model().objects.create_user("sam", password="pw-sam", is_staff=True)
    sam.groups.add(supervisors)
    visitor_a, visitor_b = Visitor.objects.create(site=site1), Visitor.objects.create(site=site1)
    msg, _ = conversations.post_shopper_message(visitor_a, "a-1", "my order")
    conversations.claim(alice, msg.conversation_id)
    offer, _ = offers.make_offer(alice, msg.conversation_id, "o-1",
                                 {"kind": "upsell", "title": "Tee", "sku": "TEE-1", "price": "9.00"})
    from chatdesk.models import CallTask, Cart, FollowUp, FollowUpStep
    from django.utils import timezone

    cart = Cart.objects.create(site=site1, cart_token="c-a", visitor=visitor_a, phone="+15550100")
    step = FollowUpStep.objects.create(site=site1, channel="call", delay_minutes=30)
    followup = FollowUp.objects.create(cart=cart, step=step, channel="call", due_at=timezone.now())
    call_task = CallTask.objects.create(followup=followup, cart=cart)
    visitor_c = Visitor.objects.create(site=site2)
    other, _ = conversations.post_shopper_message(visitor_c, "c-1", "site two")
    conversations.claim(carol, other.conversation_id)
    return World(site1, site2, alice, bob, carol, sam, visitor_a, visitor_b,
                 make_visitor_token(visitor_a), make_visitor_token(visitor_b),
                 Conversation.objects.get(pk=msg.conversation_id), Conversation.objects.get(pk=other.conversation_id),
                 offer, extra={"call_task": call_task.pk})


# -- HTTP ------------------------------------------------------------------------

def http_client(actor: str, w: World) -> Client:
    from chatdesk.reports.auth import make_staff_token

    client = Client()
    if actor in ("agent_site1", "agent_site2", "supervisor"):
        client.force_login({"agent_site1": w.alice, "agent_site2": w.carol, "supervisor": w.sam}[actor])
    bearer = {
        # A visitor token is the shopper's only credential: it must open nothing over HTTP.
        "shopper_a": w.token_a, "shopper_b": w.token_b,
        "api_key_site1": "key-demo-store",
        "staff_token": make_staff_token(w.sam),
    }.get(actor)
    if bearer:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    return client


@dataclass
class HttpRow:
    method: str
    path: str | Callable[[World], str]
    expect: dict[str, int | str]
    body: dict | None = None

    def url(self, w: World) -> str:
        return self.path(w) if callable(self.path) else self.path


def everyone(outcome, **overrides) -> dict:
    table = {a: outcome for a in HTTP_ACTORS}
    table.update(overrides)
    return table


ADMIN_ONLY_SUPERVISOR = everyone(LOGIN, supervisor=200)
SUMMARY = "/api/v1/reports/summary/?from=2026-01-01&to=2026-12-31"

HTTP_ROWS = [
    HttpRow("GET", "/accounts/login/", everyone(200, agent_site1=200, agent_site2=200, supervisor=200)),
    HttpRow("GET", "/console/", everyone(LOGIN, agent_site1=200, agent_site2=200, supervisor=403)),
    HttpRow("GET", "/demo/", everyone(200)),
    HttpRow("GET", "/admin/", ADMIN_ONLY_SUPERVISOR),
    HttpRow("GET", "/admin/chatdesk/conversation/", ADMIN_ONLY_SUPERVISOR),
    HttpRow("GET", lambda w: f"/admin/chatdesk/conversation/{w.conv_a.id}/change/", ADMIN_ONLY_SUPERVISOR),
    HttpRow("GET", "/admin/chatdesk/message/", ADMIN_ONLY_SUPERVISOR),
    HttpRow("GET", "/admin/chatdesk/visitor/", ADMIN_ONLY_SUPERVISOR),
    HttpRow("GET", lambda w: f"/admin/chatdesk/site/{w.site1.id}/change/", ADMIN_ONLY_SUPERVISOR),
    # Accounts are managed by superusers only.
    HttpRow("GET", "/admin/auth/user/", everyone(LOGIN, supervisor=403)),
    HttpRow("GET", "/api/schema/", everyone(200)),
    HttpRow("GET", SUMMARY, everyone(401, agent_site1=403, agent_site2=403, supervisor=200, staff_token=200)),
    HttpRow("GET", SUMMARY.replace("summary", "series"),
            everyone(401, agent_site1=403, agent_site2=403, supervisor=200, staff_token=200)),
    # The call list: agents only, each their own sites' tasks.
    HttpRow("GET", "/console/api/call-tasks/", everyone(401, agent_site1=200, agent_site2=200, supervisor=403)),
    HttpRow("GET", lambda w: f"/console/api/call-tasks/{w.extra['call_task']}/",
            everyone(401, agent_site1=200, agent_site2=404, supervisor=403)),
    HttpRow("POST", lambda w: f"/console/api/call-tasks/{w.extra['call_task']}/",
            everyone(401, agent_site1=200, agent_site2=404, supervisor=403), body={"outcome": "voicemail"}),
    # Recovery and unsubscribe links are capabilities: a forged token opens nothing, for anyone.
    HttpRow("GET", "/r/forged-token/", everyone(404)),
    HttpRow("GET", "/r/forged-token/cart.json", everyone(404)),
    HttpRow("GET", "/u/forged-token/", everyone(404)),
    HttpRow("POST", "/u/forged-token/", everyone(404), body={}),
    # Inbound SMS needs Twilio's signature (and a configured token): nobody else gets in.
    HttpRow("POST", "/hooks/sms/twilio/demo-store/", everyone(403), body={"From": "+15550100", "Body": "STOP"}),
]


def outcome_of(response) -> int | str:
    if response.status_code == 302 and "login" in response.headers.get("Location", ""):
        return LOGIN
    return response.status_code


@pytest.mark.django_db
def test_every_actor_gets_exactly_its_due_on_every_page_and_endpoint():
    w = build_world()
    wrong = []
    for row in HTTP_ROWS:
        assert set(row.expect) == set(HTTP_ACTORS), f"{row.method} {row.path}: name an outcome for every actor"
        for actor in HTTP_ACTORS:
            client = http_client(actor, w)
            kwargs = {"data": json.dumps(row.body), "content_type": "application/json"} if row.body is not None else {}
            got = outcome_of(getattr(client, row.method.lower())(row.url(w), **kwargs))
            if got != row.expect[actor]:
                wrong.append(f"{row.method} {row.url(w)} as {actor}: got {got}, expected {row.expect[actor]}")
    assert not wrong, "\n".join(wrong)


# -- the console socket ------------------------------------------------------------

CONSOLE_ACTORS = ("assigned_agent", "other_agent_site1", "agent_site2")


@dataclass
class FrameRow:
    name: str
    frame: Callable[[dict], dict]  # built from a fresh context for every cell
    expect: dict[str, str]
    then: Callable[[dict, str, str], None] | None = None  # extra checks on the rows: (ctx, actor, outcome)


def fresh_conversation() -> dict:
    """A new shopper with a conversation on site 1 assigned to alice, and an offer in it."""
    from chatdesk.actions import conversations, offers
    from chatdesk.models import Site, Visitor

    site = Site.objects.get(key="demo-store")
    alice = get_user_model().objects.get(username="alice")
    visitor = Visitor.objects.create(site=site)
    msg, _ = conversations.post_shopper_message(visitor, "first", "hello")
    conversations.claim(alice, msg.conversation_id)
    offer, _ = offers.make_offer(alice, msg.conversation_id, "o-1",
                                 {"kind": "upsell", "title": "Tee", "sku": "TEE-1", "price": "9.00"})
    return {"conv": msg.conversation_id, "visitor": str(visitor.public_id), "offer": offer.id}


def _count(model, **kw):
    return model.objects.filter(**kw).count()


def _stored_once_if_ok(model, field="client_id"):
    def check(ctx, actor, outcome):
        n = _count(model, conversation_id=ctx["conv"], **{field: "x-1"})
        assert n == (1 if outcome == "ok" else 0), f"{model.__name__} rows for {actor}: {n}"
    return check


def _status_after(expected_if_ok):
    def check(ctx, actor, outcome):
        status = Conversation.objects.get(pk=ctx["conv"]).status
        want = expected_if_ok if outcome == "ok" else Conversation.ACTIVE
        assert status == want, f"{actor}: status {status}, expected {want}"
    return check


CONSOLE_ROWS = [
    FrameRow("claim", lambda c: {"type": "claim", "conversation_id": c["conv"]},
             {"assigned_agent": "already_assigned", "other_agent_site1": "already_assigned", "agent_site2": "forbidden"}),
    FrameRow("message", lambda c: {"type": "message", "conversation_id": c["conv"], "client_id": "x-1", "text": "hi"},
             {"assigned_agent": "ok", "other_agent_site1": "not_assigned", "agent_site2": "forbidden"},
             _stored_once_if_ok(Message)),
    # Notes are internal to the site's agents: a colleague may leave one.
    FrameRow("note", lambda c: {"type": "note", "conversation_id": c["conv"], "client_id": "x-1", "text": "vip"},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "forbidden"},
             _stored_once_if_ok(Note)),
    FrameRow("offer", lambda c: {"type": "offer", "conversation_id": c["conv"], "client_id": "x-1",
                                 "offer": {"kind": "free_shipping", "title": "Free shipping"}},
             {"assigned_agent": "ok", "other_agent_site1": "not_assigned", "agent_site2": "forbidden"},
             _stored_once_if_ok(Offer)),
    FrameRow("close", lambda c: {"type": "close", "conversation_id": c["conv"], "reason": "other"},
             {"assigned_agent": "ok", "other_agent_site1": "not_assigned", "agent_site2": "forbidden"},
             _status_after(Conversation.CLOSED)),
    FrameRow("transfer", lambda c: {"type": "transfer", "conversation_id": c["conv"], "to_queue": "general"},
             {"assigned_agent": "ok", "other_agent_site1": "not_assigned", "agent_site2": "forbidden"},
             _status_after(Conversation.QUEUED)),
    FrameRow("sync", lambda c: {"type": "sync", "conversation_id": c["conv"], "last_seq": 0},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "forbidden"}),
    FrameRow("open", lambda c: {"type": "open", "conversation_id": c["conv"]},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "forbidden"}),
    FrameRow("typing", lambda c: {"type": "typing", "conversation_id": c["conv"], "active": True},
             {"assigned_agent": "ok", "other_agent_site1": "not_assigned", "agent_site2": "not_assigned"}),
    FrameRow("invite", lambda c: {"type": "invite", "visitor_id": c["visitor"], "text": "hi"},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "not_found"}),
    # These act on the agent alone.
    FrameRow("presence", lambda c: {"type": "presence", "status": "away"},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "ok"}),
    FrameRow("ping", lambda c: {"type": "ping"},
             {"assigned_agent": "ok", "other_agent_site1": "ok", "agent_site2": "ok"}),
]


async def outcome(sock, frame) -> tuple[str, list]:
    """'ok', or the code of the error the frame got (frames are answered in order, so a ping marks the end)."""
    await sock.send(frame)
    await sock.send({"type": "ping"})
    replies = []
    while (reply := await sock.recv(10))["type"] != "pong":
        replies.append(reply)
    errors = [r["code"] for r in replies if r["type"] == "error"]
    return (errors[0] if errors else "ok"), replies


@pytest.mark.django_db(transaction=True)
async def test_every_console_frame_is_allowed_or_refused_per_actor():
    w = await sync_to_async(build_world)()
    socks = {"assigned_agent": await console(w.alice), "other_agent_site1": await console(w.bob),
             "agent_site2": await console(w.carol)}
    wrong = []
    for row in CONSOLE_ROWS:
        assert set(row.expect) == set(CONSOLE_ACTORS), f"{row.name}: name an outcome for every actor"
        for actor in CONSOLE_ACTORS:
            ctx = await sync_to_async(fresh_conversation)()
            got, _ = await outcome(socks[actor], row.frame(ctx))
            if got != row.expect[actor]:
                wrong.append(f"{row.name} as {actor}: got {got}, expected {row.expect[actor]}")
            elif row.then:
                try:
                    await sync_to_async(row.then)(ctx, actor, got)
                except AssertionError as err:
                    wrong.append(f"{row.name} as {actor}: {err}")
    for sock in socks.values():
        await sock.close()
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
async def test_the_console_handshake_admits_agents_only():
    from channels.testing import WebsocketCommunicator

    from chatdesk.asgi import application

    from .conftest import ORIGIN, session_cookie

    w = await sync_to_async(build_world)()
    for who, user, admitted in (("anonymous", None, False), ("supervisor", w.sam, False),
                                ("agent_site1", w.alice, True), ("agent_site2", w.carol, True)):
        headers = [(b"origin", ORIGIN.encode())]
        if user is not None:
            headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
        communicator = WebsocketCommunicator(application, "/ws/console/", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected == admitted, who
        await communicator.disconnect()


# -- the widget socket --------------------------------------------------------------

WIDGET_ACTORS = ("shopper_a", "shopper_b", "no_hello")


def shopper_context() -> dict:
    """Shopper A with a closed, rateable conversation, a live offer in an open one, and a cart of their own."""
    from chatdesk.actions import carts, conversations, offers
    from chatdesk.actions.visitors import make_visitor_token
    from chatdesk.models import Site, Visitor

    site = Site.objects.get(key="demo-store")
    alice = get_user_model().objects.get(username="alice")
    a = Visitor.objects.create(site=site)
    first, _ = conversations.post_shopper_message(a, "old", "earlier question")
    conversations.claim(alice, first.conversation_id)
    conversations.close(alice, first.conversation_id, "other")
    msg, _ = conversations.post_shopper_message(a, "a-1", "hello")
    conversations.claim(alice, msg.conversation_id)
    offer, _ = offers.make_offer(alice, msg.conversation_id, "o-1",
                                 {"kind": "upsell", "title": "Tee", "sku": "TEE-1", "price": "9.00"})
    carts.record_widget_cart(a, {"cart_token": f"cart-{a.public_id}", "items": []})
    return {"token": make_visitor_token(a), "visitor": a.pk, "conv": msg.conversation_id, "closed": first.conversation_id,
            "offer": offer.id, "cart_token": f"cart-{a.public_id}"}


def _offer_status_if_ok(ctx, actor, outcome):
    status = Offer.objects.get(pk=ctx["offer"]).status
    assert status == ("accepted" if outcome == "ok" else "proposed"), f"{actor}: offer is {status}"


def _not_in_a_conversation(ctx, actor, outcome):
    # Whoever sent it, nothing lands in A's conversation unless A sent it.
    n = _count(Message, conversation_id=ctx["conv"], client_id="x-1")
    assert n == (1 if actor == "shopper_a" else 0), f"{actor}: {n} messages in A's conversation"


def _rating_if_ok(ctx, actor, outcome):
    rating = Conversation.objects.get(pk=ctx["closed"]).rating
    assert rating == (4 if actor == "shopper_a" else None), f"{actor}: A's conversation rated {rating}"


def _cart_untouched_unless_a(ctx, actor, outcome):
    cart = Cart.objects.get(cart_token=ctx["cart_token"])
    assert cart.visitor_id == ctx["visitor"]
    assert (cart.items != []) == (actor == "shopper_a"), f"{actor} changed A's cart"


def _identity_stays_a(ctx, actor, outcome):
    from chatdesk.models import Visitor

    email = Visitor.objects.get(pk=ctx["visitor"]).email
    assert email == ("x@example.com" if actor == "shopper_a" else ""), f"{actor} set A's email to {email!r}"


WIDGET_ROWS = [
    FrameRow("message", lambda c: {"type": "message", "client_id": "x-1", "text": "hi"},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "hello_required"}, _not_in_a_conversation),
    FrameRow("offer_response", lambda c: {"type": "offer_response", "offer_id": c["offer"], "accepted": True},
             {"shopper_a": "ok", "shopper_b": "not_found", "no_hello": "hello_required"}, _offer_status_if_ok),
    FrameRow("rate", lambda c: {"type": "rate", "score": 4},
             {"shopper_a": "ok", "shopper_b": "not_found", "no_hello": "hello_required"}, _rating_if_ok),
    FrameRow("cart", lambda c: {"type": "cart", "cart": {"cart_token": c["cart_token"], "items": [
        {"sku": "TEE-1", "name": "Tee", "quantity": 1, "unit_price": "9.00"}]}},
             {"shopper_a": "ok", "shopper_b": "forbidden", "no_hello": "hello_required"}, _cart_untouched_unless_a),
    FrameRow("sync", lambda c: {"type": "sync", "last_seq": 0},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "hello_required"}),
    FrameRow("typing", lambda c: {"type": "typing", "active": True},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "hello_required"}),
    FrameRow("page", lambda c: {"type": "page", "url": "https://shop.example/cart"},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "hello_required"}),
    FrameRow("identify", lambda c: {"type": "identify", "email": "x@example.com"},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "hello_required"}, _identity_stays_a),
    # A tampered token is no one's: a new visitor, never A.
    FrameRow("hello", lambda c: {"type": "hello", "visitor_token": c["token"][:-2] + "xx", "last_seq": 0},
             {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "ok"}),  # the welcome is checked below
    FrameRow("ping", lambda c: {"type": "ping"}, {"shopper_a": "ok", "shopper_b": "ok", "no_hello": "ok"}),
]


@pytest.mark.django_db(transaction=True)
async def test_every_widget_frame_is_allowed_or_refused_per_shopper():
    await sync_to_async(build_world)()
    wrong = []
    for row in WIDGET_ROWS:
        assert set(row.expect) == set(WIDGET_ACTORS), f"{row.name}: name an outcome for every actor"
        for actor in WIDGET_ACTORS:
            ctx = await sync_to_async(shopper_context)()
            if actor == "no_hello":
                sock = await widget(hello=False)
            else:
                sock = await widget(token=ctx["token"] if actor == "shopper_a" else None)
            got, replies = await outcome(sock, row.frame(ctx))
            if row.name == "hello":
                welcome = next(r for r in replies if r["type"] == "welcome")
                if welcome["conversation"] is not None and welcome["conversation"]["id"] == ctx["conv"]:
                    wrong.append(f"hello with a tampered token as {actor}: got A's conversation")
            if row.name == "sync" and actor == "shopper_b":
                synced = next(r for r in replies if r["type"] == "synced")
                if synced["conversation"] is not None or synced["messages"]:
                    wrong.append("sync as shopper_b: saw a conversation that is not theirs")
            await sock.close()
            if got != row.expect[actor]:
                wrong.append(f"{row.name} as {actor}: got {got}, expected {row.expect[actor]}")
            elif row.then:
                try:
                    await sync_to_async(row.then)(ctx, actor, got)
                except AssertionError as err:
                    wrong.append(f"{row.name} as {actor}: {err}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
async def test_a_shopper_token_opens_only_its_own_site_and_an_unknown_origin_opens_nothing():
    from channels.testing import WebsocketCommunicator

    from chatdesk.asgi import application

    w = await sync_to_async(build_world)()
    # A's token on site 2's widget makes a new visitor there: never A.
    other = await widget("other-store", token=w.token_a)
    assert other.welcome["visitor_id"] != str(w.visitor_a.public_id)
    assert other.welcome["conversation"] is None
    await other.close()
    for key, origin in (("demo-store", "https://evil.example"), ("no-such-store", "http://localhost:8000")):
        communicator = WebsocketCommunicator(application, f"/ws/widget/{key}/", headers=[(b"origin", origin.encode())])
        connected, _ = await communicator.connect(timeout=5)
        assert not connected, (key, origin)
        await communicator.disconnect()
