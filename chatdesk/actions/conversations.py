"""The life of a conversation: messages with gap-free seq, claims, closes, transfers, ratings.

Every function runs in one transaction, locks the row it numbers or
assigns, and emits its frames with `emit`, which sends them only after
commit.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..errors import ActionError
from ..events import agent_group, emit, site_agents_group, visitor_group
from ..models import CLOSE_REASONS, Conversation, Message, Note, Visitor
from ..routing import refresh_priority
from ..serialize import agent_ref, conversation_summary, message_dict, note_dict
from ..text import mask_card_numbers
from . import fast_append
from .queue import broadcast_queue


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


def _deliver_message(conv: Conversation, msg: Message) -> None:
    # The sending socket gets its `ack`; `skip_origin` keeps it from also
    # receiving the broadcast copy (its other tabs still do).
    frame = {"type": "message", "message": message_dict(msg)}
    # seq and conversation_id ride along so that a socket sent this message
    # in a resync as well drops the live copy (FrameConsumer.chat_frame).
    tag = {"skip_origin": True, "seq": msg.seq, "conversation_id": conv.id}
    emit(visitor_group(conv.visitor.public_id), frame, **tag)
    if conv.agent_id:
        emit(agent_group(conv.agent_id), frame, **tag)
    else:
        emit(site_agents_group(conv.site_id), frame, **tag)


def _redeliver(msg: Message) -> None:
    """Publish a stored message again for a retried send.

    A sender retries when it got no ack, and the first attempt may have
    committed in a process that died before publishing it: without this the
    other side would not see the message until its next resync. Sockets that
    already have it drop the copy by seq.
    """
    _deliver_message(_summary_query().get(pk=msg.conversation_id), msg)


def emit_conversation(conv: Conversation) -> None:
    """Tell consoles that a conversation changed (summary on the site's and the agent's groups)."""
    frame = {"type": "conversation", "conversation": conversation_summary(conv)}
    emit(site_agents_group(conv.site_id), frame)
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
        emit(site_agents_group(conv.site_id), frame)
    return note, True


def claim(user, conversation_id: int) -> Conversation:
    """Assign a queued conversation to this agent; exactly one of racing claims wins."""
    from agents.models import AgentProfile

    with transaction.atomic():
        # Lock the agent first, then the conversation: every path that assigns takes them in this order.
        profile = AgentProfile.objects.select_for_update().get(user=user)
        conv = _locked_for_agent(user, conversation_id)
        if conv.status != Conversation.QUEUED or conv.agent_id is not None:
            if conv.agent_id == user.id and conv.status == Conversation.ACTIVE:
                raise ActionError("already_assigned", "this conversation is already yours")
            raise ActionError("already_assigned", "another agent has already taken this conversation")
        if conv.team_id and not profile.teams.filter(pk=conv.team_id).exists():
            raise ActionError("forbidden", "this conversation waits in a queue you are not part of")
        load = Conversation.objects.filter(agent=user, status=Conversation.ACTIVE).count()
        if load >= profile.capacity:
            raise ActionError("over_capacity", f"you already hold {load} conversations (capacity {profile.capacity})")
        return assign_locked(conv, user, profile)


def assign_locked(conv: Conversation, user, profile) -> Conversation:
    """Assign a locked, queued conversation to an agent whose profile row is locked."""
    now = timezone.now()
    conv.status = Conversation.ACTIVE
    conv.agent = user
    conv.assigned_at = now
    if conv.first_assigned_at is None:
        conv.first_assigned_at = now
    conv.save(update_fields=["status", "agent", "assigned_at", "first_assigned_at"])
    profile.last_assigned_at = now
    profile.save(update_fields=["last_assigned_at"])
    conv = _summary_query().get(pk=conv.pk)
    emit(
        visitor_group(conv.visitor.public_id),
        {"type": "assigned", "conversation_id": conv.id, "agent": {"name": profile.display_name}},
    )
    emit_conversation(conv)
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
        was_queued = conv.status == Conversation.QUEUED
        conv.status = Conversation.CLOSED
        conv.closed_at = timezone.now()
        conv.close_reason = reason
        conv.close_note = note
        if conv.agent_id is None:
            conv.agent = user
        conv.save(update_fields=["status", "closed_at", "close_reason", "close_note", "agent"])
        conv = _summary_query().get(pk=conv.pk)
        emit(visitor_group(conv.visitor.public_id), {"type": "closed", "conversation_id": conv.id, "reason": reason})
        emit_conversation(conv)
        if was_queued:
            broadcast_queue(conv.site)
    return conv


def transfer(user, conversation_id: int, to_agent=None, to_queue=None, note: str = "") -> Conversation:
    """Hand a conversation to another agent (by id or username) or back to a queue, history and cart kept."""
    from agents.models import AgentProfile, Team

    if (to_agent is None) == (to_queue is None):
        raise ActionError("invalid_field", "give exactly one of 'to_agent' or 'to_queue'", "to_agent")
    with transaction.atomic():
        conv = _locked_for_agent(user, conversation_id)
        if conv.status not in Conversation.OPEN_STATUSES:
            raise ActionError("conversation_closed", "this conversation is already closed")
        if conv.agent_id not in (None, user.id):
            raise ActionError("not_assigned", "only the assigned agent can transfer this conversation")
        site = conv.site
        if to_agent is not None:
            lookup = {"user_id": to_agent} if isinstance(to_agent, int) and not isinstance(to_agent, bool) else {"user__username": str(to_agent)}
            target = AgentProfile.objects.select_for_update().filter(sites=site, **lookup).select_related("user").first()
            if target is None:
                raise ActionError("not_found", "no such agent serves this site", "to_agent")
            if target.user_id == user.id:
                raise ActionError("invalid_field", "the conversation is already yours", "to_agent")
            load = Conversation.objects.filter(agent_id=target.user_id, status=Conversation.ACTIVE).count()
            if load >= target.capacity:
                raise ActionError("over_capacity", f"{target.display_name} is at capacity", "to_agent")
            conv.status = Conversation.QUEUED  # assign_locked moves it to active
            conv.agent = None
            conv = assign_locked(conv, target.user, target)
        else:
            lookup = {"pk": to_queue} if isinstance(to_queue, int) and not isinstance(to_queue, bool) else {"name": str(to_queue)}
            team = Team.objects.filter(site=site, **lookup).first()
            if team is None and to_queue not in ("", "general", "default"):
                raise ActionError("not_found", "no such queue on this site", "to_queue")
            conv.status = Conversation.QUEUED
            conv.agent = None
            conv.team = team
            conv.queued_at = timezone.now()
            refresh_priority(conv)
            conv.save(update_fields=["status", "agent", "team", "queued_at", "priority_key"])
            conv = _summary_query().get(pk=conv.pk)
            emit_conversation(conv)
            broadcast_queue(site)
        if note:
            Note.objects.create(
                conversation=conv, author=user, author_name=user.agent_profile.display_name,
                text=f"Transfer note: {note}",
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
