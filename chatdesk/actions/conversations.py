"""The life of a conversation: messages with gap-free seq, claims, closes, transfers, ratings.

Every function runs in one transaction, locks the row it numbers or
assigns, and emits its frames with `emit`, which sends them only after
commit.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .. import asyncdb
from ..errors import ActionError
from ..events import agent_group, conversation_audience, emit, emit_to, event_pairs, visitor_group
from ..models import CLOSE_REASONS, Assignment, Conversation, Message, Note, Visitor
from ..routing import refresh_priority, send_to_head
from ..serialize import agent_ref, conversation_summary, message_dict, note_dict
from ..text import mask_card_numbers
from . import fast_append
from .interventions import PROACTIVE_WINDOW
from .queue import AGENTS_IF_OVERFLOW, broadcast_queue


def _summary_query():
    return Conversation.objects.select_related("visitor", "cart", "site", "team", "agent__agent_profile")


def load_conversation(conversation_id: int) -> Conversation:
    try:
        return _summary_query().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise ActionError("not_found", f"conversation {conversation_id} does not exist") from None


def agent_serves_site(user, site_id: int) -> bool:
    profile = getattr(user, "agent_profile", None)
    return profile is not None and profile.sites.filter(pk=site_id).exists()


def agent_may_see(user, conv: Conversation) -> bool:
    """Agents see their sites' conversations, except that a team's waiting ones are for its members."""
    if not agent_serves_site(user, conv.site_id):
        return False
    if conv.status != Conversation.QUEUED or conv.team_id is None or conv.agent_id == user.id:
        return True
    return user.agent_profile.teams.filter(pk=conv.team_id).exists()


def _message_delivery(conv: Conversation, msg: Message) -> tuple[tuple[str, str], dict, dict]:
    """(groups, frame, tag) of a new message: its shopper and its agent, or its audience while it waits."""
    # The sending socket gets its `ack`; `skip_origin` keeps it from also
    # receiving the broadcast copy (its other tabs still do).
    frame = {"type": "message", "message": message_dict(msg)}
    # seq and conversation_id ride along so that a socket sent this message
    # in a resync as well drops the live copy (FrameConsumer.chat_frame).
    tag = {"skip_origin": True, "seq": msg.seq, "conversation_id": conv.id}
    staff = agent_group(conv.agent_id) if conv.agent_id else conversation_audience(conv)
    return (visitor_group(conv.visitor.public_id), staff), frame, tag


def _deliver_message(conv: Conversation, msg: Message) -> None:
    groups, frame, tag = _message_delivery(conv, msg)
    emit_to(groups, frame, **tag)


def _message_events(conv: Conversation, msg: Message) -> list:
    """What `_deliver_message` emits, for a caller that publishes itself (no transaction to wait for)."""
    groups, frame, tag = _message_delivery(conv, msg)
    return event_pairs(groups, frame, **tag)


def _redeliver(msg: Message) -> None:
    """Publish a stored message again for a retried send.

    A sender retries when it got no ack, and the first attempt may have
    committed in a process that died before publishing it: without this the
    other side would not see the message until its next resync. Sockets that
    already have it drop the copy by seq.
    """
    _deliver_message(_summary_query().get(pk=msg.conversation_id), msg)


def emit_conversation(conv: Conversation) -> None:
    """Tell consoles that a conversation changed: its audience (team or site) and its agent."""
    frame = {"type": "conversation", "conversation": conversation_summary(conv)}
    emit(conversation_audience(conv), frame)
    if conv.agent_id:
        emit(agent_group(conv.agent_id), frame)


def _append(conv: Conversation, sender: str, text: str, client_id: str = "", author=None, author_name: str = "") -> Message:
    """Number and store one message in a conversation whose row the caller has locked."""
    now = timezone.now()
    conv.last_seq += 1
    conv.last_message_at = now
    fields = ["last_seq", "last_message_at"]
    if sender == Message.AGENT and conv.first_agent_message_at is None:
        conv.first_agent_message_at = now
        fields.append("first_agent_message_at")
    Conversation.objects.filter(pk=conv.pk).update(**{f: getattr(conv, f) for f in fields})
    return Message.objects.create(
        conversation=conv, seq=conv.last_seq, sender=sender, text=text, client_id=client_id,
        author=author, author_name=author_name, created_at=now,
    )


def _open_conversation(visitor: Visitor) -> tuple[Conversation, bool]:
    """The visitor's open conversation, or a new queued one; the caller holds the visitor lock."""
    conv = (
        Conversation.objects.select_for_update()
        .filter(visitor=visitor, status__in=Conversation.OPEN_STATUSES)
        .order_by("-created_at")
        .first()
    )
    if conv is not None:
        return conv, False
    from .carts import current_cart

    now = timezone.now()
    conv = Conversation(site_id=visitor.site_id, visitor=visitor, queued_at=now, cart=current_cart(visitor))
    # Read under the visitor lock: another tab may have just accepted the prompt.
    accepted = Visitor.objects.filter(pk=visitor.pk).values_list("prompt_accepted_at", flat=True).first()
    if accepted is not None and now - accepted <= PROACTIVE_WINDOW:
        conv.proactive = True
        # One acceptance starts one conversation; a later chat is the shopper's own idea.
        Visitor.objects.filter(pk=visitor.pk).update(prompt_accepted_at=None)
    conv.site = visitor.site
    conv.created_at = now
    refresh_priority(conv)
    conv.save()
    return conv, True


def post_shopper_message(visitor: Visitor, client_id: str, text: str, conversation_id: int | None = None) -> tuple[Message, bool]:
    """Store a shopper's message (opening a conversation if needed); a repeated client_id returns the first.

    `conversation_id` is the open conversation the caller believes in (the
    socket remembers it): a hint for the one-statement path, never trusted.
    """
    text = mask_card_numbers(text)
    if conversation_id and fast_append.available():
        done = fast_append.append(Message.SHOPPER, conversation_id, client_id, text, visitor_id=visitor.pk)
        if done is not None:
            _deliver_message(done[1], done[0])
            return done[0], True
    with transaction.atomic():
        # One lock per visitor: two tabs sending the first message at once
        # open one conversation, and a retry racing its original is seen.
        Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
        existing = (
            Message.objects.filter(conversation__visitor=visitor, client_id=client_id, sender=Message.SHOPPER)
            .order_by("-id").first()
        )
        if existing is not None:
            _redeliver(existing)
            return existing, False
        conv, created = _open_conversation(visitor)
        msg = _append(conv, Message.SHOPPER, text, client_id)
        conv = _summary_query().get(pk=conv.pk)
        _deliver_message(conv, msg)
        if created:
            emit_conversation(conv)
            broadcast_queue(conv.site)
            from .routing_hooks import conversation_queued

            conversation_queued(conv)
    return msg, True


async def post_shopper_message_on_loop(visitor: Visitor, client_id: str, text: str,
                                       conversation_id: int | None) -> tuple[Message, list] | None:
    """`post_shopper_message`'s one-statement path on the event loop: (message, events to publish), or None.

    None means "take `post_shopper_message` in a worker thread": no open
    conversation known, not PostgreSQL, a rule to check, a repeated
    client_id, or a failed connection. Nothing was stored then.
    """
    if not conversation_id or not asyncdb.enabled():
        return None
    done = await fast_append.append_async(
        Message.SHOPPER, conversation_id, client_id, mask_card_numbers(text), visitor_id=visitor.pk)
    return None if done is None else (done[0], _message_events(done[1], done[0]))


async def post_agent_message_on_loop(user, conversation_id: int, client_id: str, text: str) -> tuple[Message, list] | None:
    """`post_agent_message`'s one-statement path on the event loop, or None for the thread path (see above)."""
    if not asyncdb.enabled():
        return None
    done = await fast_append.append_async(Message.AGENT, conversation_id, client_id, text, author_id=user.id)
    return None if done is None else (done[0], _message_events(done[1], done[0]))


def _locked_for_agent(user, conversation_id: int) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise ActionError("not_found", f"conversation {conversation_id} does not exist")
    if not agent_serves_site(user, conv.site_id):
        raise ActionError("forbidden", "you do not serve this conversation's site")
    return conv


def post_agent_message(user, conversation_id: int, client_id: str, text: str) -> tuple[Message, bool]:
    """Store an agent's reply; only the assigned agent of an active conversation may post."""
    if fast_append.available():
        done = fast_append.append(Message.AGENT, conversation_id, client_id, text, author_id=user.id)
        if done is not None:
            _deliver_message(done[1], done[0])
            return done[0], True
    with transaction.atomic():
        conv = _locked_for_agent(user, conversation_id)
        existing = Message.objects.filter(conversation=conv, client_id=client_id).first()
        if existing is not None:
            _redeliver(existing)
            return existing, False
        if conv.agent_id != user.id or conv.status != Conversation.ACTIVE:
            raise ActionError("not_assigned", "you can only post in a conversation assigned to you")
        name = user.agent_profile.display_name
        msg = _append(conv, Message.AGENT, text, client_id, author=user, author_name=name)
        conv = _summary_query().get(pk=conv.pk)
        _deliver_message(conv, msg)
    return msg, True


def post_system_message(conv: Conversation, text: str) -> Message:
    """A line from ChatDesk itself (e.g. "returned to the queue"); caller is in a transaction."""
    locked = Conversation.objects.select_for_update().get(pk=conv.pk)
    msg = _append(locked, Message.SYSTEM, text, author_name="ChatDesk")
    conv.last_seq = locked.last_seq
    _deliver_message(conv, msg)
    return msg


def add_note(user, conversation_id: int, client_id: str, text: str) -> tuple[Note, bool]:
    """An internal note: seen by agents of the site, never by the shopper."""
    with transaction.atomic():
        conv = _locked_for_agent(user, conversation_id)
        existing = Note.objects.filter(conversation=conv, client_id=client_id).first()
        if existing is not None:
            return existing, False
        note = Note.objects.create(
            conversation=conv, author=user, author_name=user.agent_profile.display_name, text=text, client_id=client_id
        )
        frame = {"type": "note", "note": note_dict(note)}
        emit(conversation_audience(conv), frame)
        if conv.agent_id:
            emit(agent_group(conv.agent_id), frame)
    return note, True


def claim(user, conversation_id: int) -> Conversation:
    """Assign a waiting conversation to this agent; exactly one of racing claims wins, capacity is never exceeded."""
    from agents.models import AgentProfile

    with transaction.atomic():
        # Lock order, on every path that assigns: agent profile(s) first, by
        # id, then the conversation. The profile lock serialises everything
        # that counts this agent's load, so the capacity check below holds.
        profile = AgentProfile.objects.select_for_update().get(user=user)
        conv = _locked_for_agent(user, conversation_id)
        if conv.status != Conversation.QUEUED or conv.agent_id is not None:
            if conv.agent_id == user.id and conv.status == Conversation.ACTIVE:
                raise ActionError("already_assigned", "this conversation is already yours")
            if conv.status == Conversation.MISSED:
                raise ActionError("conversation_closed", "the shopper left before anyone answered (missed)")
            raise ActionError("already_assigned", "another agent has already taken this conversation")
        if conv.team_id and not profile.teams.filter(pk=conv.team_id).exists():
            raise ActionError("forbidden", "this conversation waits in a queue you are not part of")
        load = agent_load(user.id)
        if load >= profile.capacity:
            raise ActionError("over_capacity", f"you already hold {load} conversations (capacity {profile.capacity})")
        return assign_locked(conv, user, profile, Assignment.CLAIM)


def agent_load(user_id: int) -> int:
    """Active conversations an agent holds (count under their profile lock to rely on it)."""
    return Conversation.objects.filter(agent_id=user_id, status=Conversation.ACTIVE).count()


def _leave_queue(conv: Conversation, now) -> list[str]:
    """Record what the reports need when a conversation stops waiting; returns the fields set."""
    fields = []
    if conv.wait_seconds is None:
        conv.wait_seconds = max(int((now - conv.created_at).total_seconds()), 0)
        fields.append("wait_seconds")
    if not conv.over_target and (now - conv.queued_at).total_seconds() > conv.site.target_wait_seconds:
        conv.over_target = True
        fields.append("over_target")
    return fields


def _end_assignment(conv: Conversation, now, reason: str) -> None:
    Assignment.objects.filter(conversation=conv, ended_at__isnull=True).update(ended_at=now, end_reason=reason)


def assign_locked(conv: Conversation, user, profile, kind: str = Assignment.CLAIM) -> Conversation:
    """Assign a locked, waiting conversation to an agent whose profile row is locked (capacity checked by the caller)."""
    now = timezone.now()
    fields = ["status", "agent", "assigned_at", "first_assigned_at", "priority_boost"]
    if conv.status == Conversation.QUEUED:
        fields += _leave_queue(conv, now)
    conv.status = Conversation.ACTIVE
    conv.agent = user
    conv.assigned_at = now
    conv.priority_boost = 0.0
    if conv.first_assigned_at is None:
        conv.first_assigned_at = now
    conv.save(update_fields=fields)
    # The partial unique index on open assignments makes a double assignment
    # an IntegrityError even if a lock were ever missed.
    Assignment.objects.create(conversation=conv, agent=user, kind=kind, started_at=now)
    profile.last_assigned_at = now
    profile.save(update_fields=["last_assigned_at"])
    conv = _summary_query().get(pk=conv.pk)
    emit(
        visitor_group(conv.visitor.public_id),
        {"type": "assigned", "conversation_id": conv.id, "agent": {"name": profile.display_name}},
    )
    emit_conversation(conv)
    # Its `conversation` frame takes it off every console's list already.
    broadcast_queue(conv.site, agents=AGENTS_IF_OVERFLOW)
    return conv


def requeue_locked(conv: Conversation, now, reason: str, system_text: str = "") -> Conversation:
    """Put a locked open conversation back at the head of its site's queue (agent offline, or handed to a queue).

    Its history, cart and queue are kept; the shopper is told with a system
    message when `system_text` is given. The caller holds the conversation
    lock and, if it had an agent, that agent's profile lock.
    """
    previous_agent = conv.agent_id
    fields = ["status", "agent", "queued_at", "priority_key", "priority_boost", "team", "team_pinned"]
    if previous_agent:
        _end_assignment(conv, now, reason)
    elif conv.status == Conversation.QUEUED and not conv.over_target:
        # Moved between queues while waiting: the wait so far still counts against the target.
        if (now - conv.queued_at).total_seconds() > conv.site.target_wait_seconds:
            conv.over_target = True
            fields.append("over_target")
    conv.status = Conversation.QUEUED
    conv.agent = None
    conv.queued_at = now
    send_to_head(conv)
    conv.save(update_fields=fields)
    if system_text:
        post_system_message(conv, system_text)
    conv = _summary_query().get(pk=conv.pk)
    emit_conversation(conv)
    if previous_agent:
        emit(agent_group(previous_agent), {"type": "conversation", "conversation": conversation_summary(conv)})
    broadcast_queue(conv.site)
    return conv


def close(user, conversation_id: int, reason: str, note: str = "") -> Conversation:
    """Close with an abandonment reason code; the shopper is told and may rate."""
    if reason not in CLOSE_REASONS:
        raise ActionError("invalid_field", f"'reason' must be one of {', '.join(CLOSE_REASONS)}", "reason")
    with transaction.atomic():
        conv = _locked_for_agent(user, conversation_id)
        if conv.status not in Conversation.OPEN_STATUSES:
            raise ActionError("conversation_closed", "this conversation is already closed")
        if conv.agent_id not in (None, user.id):
            raise ActionError("not_assigned", "only the assigned agent can close this conversation")
        now = timezone.now()
        fields = ["status", "closed_at", "close_reason", "close_note", "agent"]
        was_queued = conv.status == Conversation.QUEUED
        if was_queued:
            fields += _leave_queue(conv, now)
        else:
            _end_assignment(conv, now, Assignment.CLOSED)
        conv.status = Conversation.CLOSED
        conv.closed_at = now
        conv.close_reason = reason
        conv.close_note = note
        if conv.agent_id is None:
            conv.agent = user
        conv.save(update_fields=fields)
        conv = _summary_query().get(pk=conv.pk)
        emit(visitor_group(conv.visitor.public_id), {"type": "closed", "conversation_id": conv.id, "reason": reason})
        emit_conversation(conv)
        # A queued one leaves the queue; an active one frees a slot (new waits, automatic assignment).
        broadcast_queue(conv.site, agents=was_queued)
    return conv


def _transfer_target(site_id: int, to_agent):
    from agents.models import AgentProfile

    if isinstance(to_agent, bool) or not isinstance(to_agent, (int, str)) or to_agent == "":
        raise ActionError("invalid_field", "'to_agent' must be an agent's id or username", "to_agent")
    lookup = {"user_id": to_agent} if isinstance(to_agent, int) else {"user__username": to_agent}
    target = AgentProfile.objects.filter(sites__id=site_id, **lookup).values_list("pk", flat=True).first()
    if target is None:
        raise ActionError("not_found", "no such agent serves this site", "to_agent")
    return target


def _transfer_queue(site_id: int, to_queue):
    """The team a `to_queue` names on this site; None for the general queue."""
    from agents.models import Team

    if to_queue in ("", "general", "default"):
        return None
    if isinstance(to_queue, bool) or not isinstance(to_queue, (int, str)):
        raise ActionError("invalid_field", "'to_queue' must be a queue's id or name, or \"general\"", "to_queue")
    lookup = {"pk": to_queue} if isinstance(to_queue, int) else {"name": to_queue}
    team = Team.objects.filter(site_id=site_id, **lookup).first()
    if team is None:
        raise ActionError("not_found", "no such queue on this site", "to_queue")
    return team


def transfer(user, conversation_id: int, to_agent=None, to_queue=None, note: str = "") -> Conversation:
    """Hand a conversation to another agent (id or username) or to a queue; history, cart and notes are kept.

    To an agent: they must serve the site, be online or away, and have a free
    slot. To a queue (a team's id or name, or "general"): it goes to the head
    of that queue and the cart rules no longer move it.
    """
    from agents.models import AgentProfile

    if (to_agent is None) == (to_queue is None):
        raise ActionError("invalid_field", "give exactly one of 'to_agent' or 'to_queue'", "to_agent")
    site_id = Conversation.objects.filter(pk=conversation_id).values_list("site_id", flat=True).first()
    if site_id is None:
        raise ActionError("not_found", f"conversation {conversation_id} does not exist")
    if not agent_serves_site(user, site_id):
        raise ActionError("forbidden", "you do not serve this conversation's site")
    target_pk = _transfer_target(site_id, to_agent) if to_agent is not None else None
    team = _transfer_queue(site_id, to_queue) if to_queue is not None else None
    with transaction.atomic():
        # Same lock order as claim and automatic assignment: the receiving
        # agent's profile before the conversation.
        target = None
        if target_pk is not None:
            target = AgentProfile.objects.select_for_update(of=("self",)).select_related("user").get(pk=target_pk)
        conv = _locked_for_agent(user, conversation_id)
        if conv.status not in Conversation.OPEN_STATUSES:
            raise ActionError("conversation_closed", "this conversation is already closed")
        if conv.agent_id not in (None, user.id):
            raise ActionError("not_assigned", "only the assigned agent can transfer this conversation")
        now = timezone.now()
        from_name = user.agent_profile.display_name
        if target is not None:
            if target.user_id == user.id:
                raise ActionError("invalid_field", "the conversation is already yours", "to_agent")
            if target.presence == AgentProfile.OFFLINE:
                raise ActionError("agent_offline", f"{target.display_name} is offline", "to_agent")
            load = agent_load(target.user_id)
            if load >= target.capacity:
                raise ActionError("over_capacity", f"{target.display_name} is at capacity", "to_agent")
            if conv.agent_id:
                _end_assignment(conv, now, Assignment.TRANSFERRED)
            conv.agent = None  # the status stays: a waiting one leaves the queue in assign_locked
            conv = assign_locked(conv, target.user, target, Assignment.TRANSFER)
            where = target.display_name
        else:
            had_agent = conv.agent_id is not None
            conv.team = team
            conv.team_pinned = True
            text = "You've been passed on to a colleague: the next available agent will answer you here." if had_agent else ""
            conv = requeue_locked(conv, now, Assignment.REQUEUED, text)
            where = f"the {team.name} queue" if team else "the general queue"
        Note.objects.create(
            conversation=conv, author=user, author_name=from_name,
            text=f"Transferred by {from_name} to {where}" + (f": {note}" if note else "."),
        )
        emit(agent_group(user.id), {"type": "conversation", "conversation": conversation_summary(conv)})
    return conv


def rate(visitor: Visitor, score: int, comment: str = "") -> Conversation:
    """CSAT for the visitor's last closed conversation."""
    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update()
            .filter(visitor=visitor, status=Conversation.CLOSED)
            .order_by("-closed_at")
            .first()
        )
        if conv is None:
            raise ActionError("not_found", "there is no closed conversation to rate")
        conv.rating = score
        conv.rating_comment = comment
        conv.rated_at = timezone.now()
        conv.save(update_fields=["rating", "rating_comment", "rated_at"])
    return conv


def messages_after(conversation_id: int, last_seq: int) -> list[dict]:
    return [
        message_dict(m)
        for m in Message.objects.filter(conversation_id=conversation_id, seq__gt=last_seq).order_by("seq")
    ]


def typing_frame(conv: Conversation, active: bool, who: str) -> dict:
    return {"type": "typing", "conversation_id": conv.id, "active": active, "who": who}


__all__ = [
    "agent_ref", "post_shopper_message", "post_agent_message", "post_system_message", "add_note", "claim",
    "close", "transfer", "rate", "messages_after", "load_conversation",
]
