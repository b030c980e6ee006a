"""What a supervisor may do to a conversation from the admin: close it or hand it to another agent.

The agent-side `close` and `transfer` are for the agent holding the
conversation; these take a supervisor instead, keep the same locking order
(agent profile, then conversation) and tell every socket after commit, the
same way, so a console or a shopper sees an admin action like any other.
Each leaves an internal note saying who did what, for the conversation's history.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..errors import ActionError
from ..events import agent_group, emit, visitor_group
from ..models import CLOSE_REASONS, Conversation, Note
from ..permissions import is_supervisor
from ..serialize import conversation_summary
from ..models import Assignment
from .conversations import _end_assignment, _leave_queue, _summary_query, assign_locked, emit_conversation
from .queue import broadcast_queue


def _supervisor_name(user) -> str:
    return f"{user.get_full_name() or user.get_username()} (supervisor)"


def _check(user) -> None:
    if not is_supervisor(user):
        raise ActionError("forbidden", "only supervisors can do this")


def _locked_open(conversation_id: int) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise ActionError("not_found", f"conversation {conversation_id} does not exist")
    if conv.status not in Conversation.OPEN_STATUSES:
        raise ActionError("conversation_closed", f"conversation {conversation_id} is already {conv.status}")
    return conv


def supervisor_close(user, conversation_id: int, reason: str, note: str = "") -> Conversation:
    """Close an open conversation (queued or active) with a reason code; the shopper and consoles are told."""
    _check(user)
    if reason not in CLOSE_REASONS:
        raise ActionError("invalid_field", f"'reason' must be one of {', '.join(CLOSE_REASONS)}", "reason")
    with transaction.atomic():
        conv = _locked_open(conversation_id)
        was_queued = conv.status == Conversation.QUEUED
        now = timezone.now()
        fields = ["status", "closed_at", "close_reason", "close_note"]
        if was_queued:
            fields += _leave_queue(conv, now)  # what the reports count about its wait
        else:
            _end_assignment(conv, now, Assignment.CLOSED)
        conv.status = Conversation.CLOSED
        conv.closed_at = now
        conv.close_reason = reason
        conv.close_note = note
        conv.save(update_fields=fields)
        Note.objects.create(conversation=conv, author=user, author_name=_supervisor_name(user),
                            text=f"Closed by {_supervisor_name(user)}: {reason}" + (f" ({note})" if note else ""))
        conv = _summary_query().get(pk=conv.pk)
        emit(visitor_group(conv.visitor.public_id), {"type": "closed", "conversation_id": conv.id, "reason": reason})
        emit_conversation(conv)
        # Closing an active one frees its agent's slot: new waits, and automatic assignment.
        broadcast_queue(conv.site, agents=was_queued)
    return conv


def supervisor_reassign(user, conversation_id: int, to_agent) -> Conversation:
    """Give an open conversation to `to_agent` (a User), who must serve its site and have a free slot.

    The supervisor may override a team queue but not an agent's capacity:
    capacity is the agent's promise of attention to each shopper.
    """
    from agents.models import AgentProfile

    _check(user)
    with transaction.atomic():
        target = (
            AgentProfile.objects.select_for_update(of=("self",)).filter(user=to_agent).select_related("user").first()
        )
        if target is None:
            raise ActionError("not_found", f"{to_agent} is not an agent", "to_agent")
        conv = _locked_open(conversation_id)
        if not target.sites.filter(pk=conv.site_id).exists():
            raise ActionError("forbidden", f"{target.display_name} does not serve this conversation's site", "to_agent")
        if conv.agent_id == target.user_id:
            raise ActionError("invalid_field", f"conversation {conv.id} is already {target.display_name}'s", "to_agent")
        load = Conversation.objects.filter(agent_id=target.user_id, status=Conversation.ACTIVE).count()
        if load >= target.capacity:
            raise ActionError("over_capacity", f"{target.display_name} is at capacity ({load}/{target.capacity})",
                              "to_agent")
        previous = conv.agent
        if previous is not None:
            _end_assignment(conv, timezone.now(), Assignment.TRANSFERRED)
        conv.agent = None  # the status stays: a waiting one leaves the queue in assign_locked
        conv = assign_locked(conv, target.user, target, Assignment.TRANSFER)
        who = previous.agent_profile.display_name if previous and hasattr(previous, "agent_profile") else "the queue"
        Note.objects.create(conversation=conv, author=user, author_name=_supervisor_name(user),
                            text=f"Reassigned from {who} to {target.display_name} by {_supervisor_name(user)}")
        if previous is not None:
            # The previous agent's console drops it on seeing the new owner.
            emit(agent_group(previous.pk), {"type": "conversation", "conversation": conversation_summary(conv)})
    return conv
