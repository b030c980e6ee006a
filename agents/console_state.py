"""What a console socket is sent: the initial `state` and a conversation's full `detail`."""
from __future__ import annotations

from chatdesk.actions.conversations import agent_serves_site, load_conversation
from chatdesk.actions.queue import queued
from chatdesk.errors import ActionError
from chatdesk.models import Conversation
from chatdesk.serialize import cart_dict, conversation_summary, message_dict, note_dict, offer_dict

from .presence import agent_frame


def initial_state(user) -> dict:
    profile = user.agent_profile
    site_ids = list(profile.sites.values_list("id", flat=True))
    mine = list(
        Conversation.objects.filter(agent=user, status__in=Conversation.OPEN_STATUSES)
        .select_related("visitor", "cart", "site", "team", "agent__agent_profile")
        .order_by("assigned_at")
    )
    return {
        "type": "state",
        "agent": agent_frame(profile, load=sum(1 for c in mine if c.status == Conversation.ACTIVE)),
        "sites": [{"id": s.id, "key": s.key, "name": s.name, "currency": s.currency}
                  for s in profile.sites.all()],
        "queue": [conversation_summary(c) for c in queued(site_ids)],
        "conversations": [conversation_summary(c) for c in mine],
    }


def conversation_detail(user, conversation_id: int, last_seq: int = 0) -> dict:
    """A conversation with its messages after `last_seq`, notes, offers and cart, for an agent of its site."""
    conv = load_conversation(conversation_id)
    if not agent_serves_site(user, conv.site_id):
        raise ActionError("forbidden", "you do not serve this conversation's site")
    since = last_seq if 0 <= last_seq <= conv.last_seq else 0
    return {
        "type": "detail",
        "conversation": conversation_summary(conv),
        "messages": [message_dict(m) for m in conv.messages.filter(seq__gt=since).order_by("seq")],
        "notes": [note_dict(n) for n in conv.notes.all()],
        "offers": [offer_dict(o) for o in conv.offers.select_related("agent__agent_profile")],
        "cart": cart_dict(conv.cart),
        "resync": since != last_seq,
    }
