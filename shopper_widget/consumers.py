"""The shopper's socket `/ws/widget/<site_key>/`: a thin door onto chatdesk.actions."""
from __future__ import annotations

import time

from django.db import connection
from django.utils import timezone

from chatdesk import hotreads
from chatdesk.actions import availability, carts, conversations, interventions, offers, visitors
from chatdesk.actions.queue import position_of, shopper_queue_frame
from chatdesk.errors import ActionError
from chatdesk.events import agent_group, site_visitors_group, visitor_group
from chatdesk.frames import SHOPPER_FRAMES
from chatdesk.limits import client_address, widget_limiter
from chatdesk.models import Conversation, Message, Site, site_origin_allowed
from chatdesk.serialize import message_dict, offer_dict
from chatdesk.sockets import CLOSE_TRY_LATER, UNAVAILABLE_ERRORS, FrameConsumer, database_sync_to_async, log


@hotreads.statement
def _site_sql() -> str:
    return f"SELECT * FROM {hotreads.table(Site)} WHERE {connection.ops.quote_name('key')} = %s"


@hotreads.statement
def _messages_after_sql() -> str:
    return f"SELECT * FROM {hotreads.table(Message)} WHERE conversation_id = %s AND seq > %s ORDER BY seq"


def _load_site(key: str):
    return hotreads.first(Site, _site_sql(), [key])  # every widget handshake asks


def _welcome(site: Site, token, last_seq: int):
    """All that `hello` reads and records, in one trip to a database thread: (visitor, welcome, queue frame or None).

    A returning shopper's server-side rules are checked here too, with the
    visitor, cart and rules already read; the caller publishes what this
    emitted only after sending `welcome`, so a prompt never overtakes it.
    """
    given = token
    visitor, token = visitors.resolve_visitor(site, token)
    returning = token == given
    # A visitor made just now has no cart and no conversation: no queries to ask.
    cart = carts.current_cart(visitor) if returning else None
    visitors.mark_connected(visitor, +1, cart=cart)
    rules = interventions.enabled_rules(site.id)
    frame = {
        "type": "welcome",
        "visitor_token": token,
        "visitor_id": str(visitor.public_id),
        "site": {"name": site.name, "greeting": site.greeting, "accent_color": site.accent_color,
                 "currency": site.currency},
        # Closed, or nobody online: the widget offers `leave_message` (docs/routing.md).
        "availability": availability.availability(site),
    }
    conv = None
    if returning:
        conv, resumed = _resume(visitor, last_seq)
        frame.update(resumed)
    else:
        frame.update({"conversation": None, "messages": [], "offers": []})
    frame["interventions"] = interventions.widget_rules(visitor, rules=rules, cart=cart)
    queue = None
    if conv is not None and conv.status == Conversation.QUEUED:
        queue = shopper_queue_frame(conv, frame["conversation"]["queue_position"])
    if returning:
        # The socket joined this visitor's group before this ran, so a prompt reaches it.
        interventions.check_server_rules(visitor, rules=rules, cart=cart, fresh=True)
    return visitor, frame, queue


def _seen(visitor_id: int) -> None:
    """A widget ping: one indexed UPDATE, so that a socket that dies without a close is noticed (missed conversations)."""
    from chatdesk.models import Visitor

    Visitor.objects.filter(pk=visitor_id).update(last_seen_at=timezone.now())


def _resume(visitor, last_seq: int) -> tuple[Conversation | None, dict]:
    """The open (or last) conversation and its part of `welcome` or `synced`: messages after `last_seq`, offers."""
    conv = visitors.open_or_last_conversation(visitor)
    frame = {"conversation": None, "messages": [], "offers": []}
    if conv is not None:
        summary = {"id": conv.id, "status": conv.status, "queue_position": position_of(conv),
                   "last_seq": conv.last_seq, "rated": conv.rating is not None}
        if conv.agent_id:
            summary["agent"] = {"name": conv.agent_name or ""}
        frame["conversation"] = summary
        # An unknown cursor (ahead of what exists) means a full resync, not a guess.
        since = last_seq if 0 <= last_seq <= conv.last_seq else 0
        if since < conv.last_seq:  # a shopper who has seen everything needs no query
            frame["messages"] = [
                message_dict(m) for m in Message.objects.raw(_messages_after_sql(), [conv.id, since])
            ]
        if conv.has_offers:
            frame["offers"] = [offer_dict(o) for o in conv.offers.select_related("agent__agent_profile")]
        if since != last_seq:
            frame["resync"] = True
    return conv, frame


def _synced(visitor, last_seq: int) -> dict:
    return {"type": "synced", **_resume(visitor, last_seq)[1]}


def _conversation_for_typing(visitor):
    return (
        Conversation.objects.filter(visitor=visitor, status__in=Conversation.OPEN_STATUSES)
        .values("id", "agent_id").first()
    )


class WidgetConsumer(FrameConsumer):
    frame_table = SHOPPER_FRAMES
    SEEN_EVERY = 10.0  # seconds: pings more often than this do not write

    async def connect(self):
        self.visitor = None
        self.conversation_id = None  # the open conversation as last seen; a hint the action re-checks
        self.slot = None
        key = self.scope["url_route"]["kwargs"]["site_key"]
        try:
            self.site = await database_sync_to_async(_load_site)(key)
        except UNAVAILABLE_ERRORS as exc:
            log.warning("database unavailable at a widget handshake: %s", exc)
            await self.refuse(ActionError("unavailable", "the server cannot take chats right now; retry shortly"))
            return
        origin = dict(self.scope.get("headers") or []).get(b"origin", b"").decode("latin-1")
        if self.site is None or not site_origin_allowed(self.site, origin):
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        limiter = widget_limiter()
        self.slot = await limiter.acquire(client_address(self.scope))
        if self.slot is None:
            await self.refuse(ActionError(
                "too_many_connections",
                f"at most {limiter.limit} chat connections from one address; close another tab and retry",
            ))
            return
        await self.accept()

    async def refuse(self, err: ActionError) -> None:
        """Accept only to say why, then close with 4013 (try again later); an HTTP 403 could not carry the reason."""
        await super().accept()
        await self.send_error(err)
        await self.close(code=CLOSE_TRY_LATER)

    async def disconnect(self, code):
        await widget_limiter().release(getattr(self, "slot", None))
        if getattr(self, "visitor", None) is not None:
            try:
                await self.channel_layer.group_discard(visitor_group(self.visitor.public_id), self.channel_name)
                await self.channel_layer.group_discard(site_visitors_group(self.site.id), self.channel_name)
                await self.run(visitors.mark_connected, self.visitor, -1)
            except UNAVAILABLE_ERRORS as exc:
                # The socket is gone either way; presence is advisory and `last_seen_at` decides.
                log.warning("could not record a widget disconnect: %s", exc)

    def _need_visitor(self):
        if self.visitor is None:
            raise ActionError("hello_required", "send 'hello' first")

    async def frame_hello(self, frame):
        if self.visitor is not None:
            await self.channel_layer.group_discard(visitor_group(self.visitor.public_id), self.channel_name)
            await self.run(visitors.mark_connected, self.visitor, -1)
        # Join the visitor's group before reading what they missed: a message
        # committed in between then arrives live after `welcome` (perhaps also
        # inside it; clients keep one copy per seq), never in neither.
        early = visitors.token_public_id(self.site, frame["visitor_token"])
        if early:
            await self.channel_layer.group_add(visitor_group(early), self.channel_name)
        (visitor, welcome, queue), emitted = await self.run_unpublished(
            _welcome, self.site, frame["visitor_token"], frame["last_seq"])
        self.visitor = visitor
        self.seen_at = float("-inf")
        if str(visitor.public_id) != early:
            if early:
                await self.channel_layer.group_discard(visitor_group(early), self.channel_name)
            await self.channel_layer.group_add(visitor_group(visitor.public_id), self.channel_name)
        await self.channel_layer.group_add(site_visitors_group(self.site.id), self.channel_name)
        conv = welcome["conversation"]
        self.conversation_id = conv["id"] if conv and conv["status"] in Conversation.OPEN_STATUSES else None
        self.mark_delivered(welcome["messages"])
        await self.send_frame(welcome)
        if queue:
            await self.send_frame(queue)
        await self.publish(emitted)
        if str(visitor.public_id) != early:
            # A new visitor: only now in their group, so a prompt reaches this socket.
            await self.run(interventions.check_server_rules, visitor)

    async def frame_message(self, frame):
        self._need_visitor()
        msg = await self.run_on_loop_or(
            conversations.post_shopper_message_on_loop, conversations.post_shopper_message,
            self.visitor, frame["client_id"], frame["text"], self.conversation_id,
        )
        self.conversation_id = msg.conversation_id
        ack = message_dict(msg)
        self.mark_delivered([ack])
        await self.send_frame({"type": "ack", "client_id": frame["client_id"], "message": ack})

    async def frame_sync(self, frame):
        self._need_visitor()
        synced = await database_sync_to_async(_synced)(self.visitor, frame["last_seq"])
        self.mark_delivered(synced["messages"])
        await self.send_frame(synced)

    async def frame_cart(self, frame):
        self._need_visitor()
        await self.run(carts.record_widget_cart, self.visitor, frame["cart"])

    async def frame_page(self, frame):
        self._need_visitor()
        await self.run(visitors.record_page, self.visitor, frame["url"], frame["title"], frame["checkout_step"])
        await self.run(interventions.check_server_rules, self.visitor)

    async def frame_typing(self, frame):
        self._need_visitor()
        conv = await database_sync_to_async(_conversation_for_typing)(self.visitor)
        if conv and conv["agent_id"]:
            from chatdesk.events import layer_event

            await self.channel_layer.group_send(
                agent_group(conv["agent_id"]),
                layer_event({"type": "typing", "conversation_id": conv["id"], "active": frame["active"], "who": "shopper"}),
            )

    async def frame_offer_response(self, frame):
        self._need_visitor()
        await self.run(offers.respond_offer, self.visitor, frame["offer_id"], frame["accepted"])

    async def frame_rate(self, frame):
        self._need_visitor()
        conv = await self.run(conversations.rate, self.visitor, frame["score"], frame["comment"])
        await self.send_frame({"type": "rated", "conversation_id": conv.id, "score": frame["score"]})

    async def frame_intervention(self, frame):
        self._need_visitor()
        await self.run(interventions.record_intervention, self.visitor, frame["trigger"], frame["action"])

    async def frame_identify(self, frame):
        self._need_visitor()
        await self.run(
            visitors.identify, self.visitor, frame["email"], frame["name"], frame["phone"],
            frame["consent_email"], frame["consent_sms"],
        )

    async def frame_ping(self, frame):
        if self.visitor is not None and time.monotonic() - self.seen_at >= self.SEEN_EVERY:
            self.seen_at = time.monotonic()
            await database_sync_to_async(_seen)(self.visitor.pk)
        await self.send_frame({"type": "pong"})

    async def frame_leave_message(self, frame):
        self._need_visitor()
        left, _ = await self.run(
            availability.leave_message, self.visitor, frame["client_id"], frame["text"], frame["email"], frame["phone"],
        )
        await self.send_frame({"type": "left_message", "client_id": frame["client_id"], "left_message_id": left.id})
