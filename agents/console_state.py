"""What a console socket is sent: the initial `state`, a conversation's `detail` and `context`, catalogue searches."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from chatdesk.actions.availability import pending_left_messages
from chatdesk.actions.conversations import agent_may_see, load_conversation
from chatdesk.actions.queue import QUEUE_SHOWN, visible_queue, visible_queue_totals
from chatdesk.errors import ActionError
from chatdesk.models import CLOSE_REASONS, OFFER_KINDS, Conversation, Message, Product
from chatdesk.serialize import cart_dict, conversation_summary, message_dict, money, note_dict, offer_dict

from .at_checkout import visitors_at_checkout
from .context import conversation_context
from .models import AgentProfile, CannedReply, Team
from .presence import agent_frame

PRODUCT_RESULTS = 20
OPEN_SHOWN = 300  # active conversations of the sites sent in `state` for "all open"


def _summaries(query, limit: int | None = None) -> list[dict]:
    query = query.select_related("visitor", "cart", "site", "team", "agent__agent_profile")
    return [conversation_summary(c) for c in (query[:limit] if limit is not None else query)]


def with_previews(summaries: list[dict]) -> list[dict]:
    """Add each conversation's last message (`last_text`, `last_sender`, `last_author`) for the list, in one query."""
    ids = {s["id"] for s in summaries}
    last = {
        m.conversation_id: m
        for m in Message.objects.filter(conversation_id__in=ids, seq=F("conversation__last_seq"))
        .only("conversation_id", "text", "sender", "author_name")
    }
    for summary in summaries:
        m = last.get(summary["id"])
        if m is not None:
            summary.update(last_text=m.text[:200], last_sender=m.sender, last_author=m.author_name or None)
    return summaries


def site_agents(site_ids) -> list[dict]:
    """The agents serving these sites, with their presence and current load (for transfers and the header)."""
    profiles = (
        AgentProfile.objects.filter(sites__in=site_ids).distinct().select_related("user").prefetch_related("sites")
        .annotate(active=Count("user__conversations", filter=Q(user__conversations__status=Conversation.ACTIVE),
                               distinct=True))
        .order_by("display_name")
    )
    out = []
    for profile in profiles:
        frame = agent_frame(profile, load=profile.active)
        frame["sites"] = [s.key for s in profile.sites.all() if s.id in site_ids]
        out.append(frame)
    return out


def initial_state(user) -> dict:
    profile = user.agent_profile
    sites = list(profile.sites.all())
    site_ids = [s.id for s in sites]
    mine = list(
        Conversation.objects.filter(agent=user, status__in=Conversation.OPEN_STATUSES)
        .select_related("visitor", "cart", "site", "team", "agent__agent_profile")
        .order_by("assigned_at")
    )
    now = timezone.now()
    return {
        "type": "state",
        "agent": agent_frame(profile, load=sum(1 for c in mine if c.status == Conversation.ACTIVE)),
        "sites": [{"id": s.id, "key": s.key, "name": s.name, "currency": s.currency,
                   "routing_mode": s.routing_mode, "target_wait_seconds": s.target_wait_seconds} for s in sites],
        # The first QUEUE_SHOWN by priority; `queue_totals` counts every one waiting, per site.
        "queue": with_previews([conversation_summary(c, now) for c in visible_queue(profile, site_ids, QUEUE_SHOWN)]),
        "queue_totals": visible_queue_totals(profile, site_ids),
        "conversations": with_previews([conversation_summary(c, now) for c in mine]),
        # The sites' active conversations (latest first), for the "all open" filter; the waiting ones are in `queue`.
        "open_conversations": with_previews(_summaries(
            Conversation.objects.filter(site_id__in=site_ids, status=Conversation.ACTIVE).order_by("-created_at"), OPEN_SHOWN,
        )),
        # With the last message, so that the Follow-ups list says what the shopper wanted.
        "missed": with_previews([conversation_summary(c, now) for c in recent_missed(profile, site_ids, now)]),
        "left_messages": pending_left_messages(profile),
        "agents": site_agents(site_ids),
        # Every queue of the agent's sites (transfers may go to any); `my_teams` are those they take from.
        "teams": [{"id": t.id, "site": t.site.key, "name": t.name}
                  for t in Team.objects.filter(site_id__in=site_ids).select_related("site")],
        "my_teams": list(profile.teams.values_list("id", flat=True)),
        "canned_replies": [{"site": c.site.key, "shortcut": c.shortcut, "title": c.title, "text": c.text}
                           for c in CannedReply.objects.filter(site_id__in=site_ids).select_related("site")],
        "close_reasons": [{"code": code, "label": label} for code, (label, _share) in CLOSE_REASONS.items()],
        "offer_kinds": list(OFFER_KINDS),
        "visitors": visitors_at_checkout(site_ids),
    }


MISSED_SHOWN_FOR = timedelta(days=7)


def recent_missed(profile, site_ids, now) -> list:
    """Missed conversations of the last week that this agent may see, newest first, for follow-up."""
    team_ids = list(profile.teams.values_list("id", flat=True))
    return list(
        Conversation.objects.filter(site_id__in=site_ids, status=Conversation.MISSED, missed_at__gte=now - MISSED_SHOWN_FOR)
        .filter(Q(team__isnull=True) | Q(team_id__in=team_ids))
        .select_related("visitor", "cart", "site", "team", "agent__agent_profile")
        .order_by("-missed_at", "-id")[:50]
    )


def _readable_conversation(user, conversation_id: int) -> Conversation:
    conv = load_conversation(conversation_id)
    if not agent_may_see(user, conv):
        raise ActionError("forbidden", "this conversation is not on your sites or in your queues")
    return conv


def conversation_detail(user, conversation_id: int, last_seq: int = 0) -> dict:
    """A conversation with its messages after `last_seq`, notes, offers, cart and context, for an agent who may see it."""
    conv = _readable_conversation(user, conversation_id)
    since = last_seq if 0 <= last_seq <= conv.last_seq else 0
    return {
        "type": "detail",
        "conversation": conversation_summary(conv),
        "messages": [message_dict(m) for m in conv.messages.filter(seq__gt=since).order_by("seq")],
        "notes": [note_dict(n) for n in conv.notes.all()],
        "offers": [offer_dict(o) for o in conv.offers.select_related("agent__agent_profile")],
        "cart": cart_dict(conv.cart),
        "context": conversation_context(conv),
        "resync": since != last_seq,
    }


def sync_frames(user, conversation_id: int, last_seq: int) -> list[dict]:
    """What `sync` replays: each missed message, then `synced` with the notes and offers (small, sent whole)."""
    detail = conversation_detail(user, conversation_id, last_seq)
    frames = [{"type": "message", "message": m} for m in detail["messages"]]
    frames.append({
        "type": "synced", "conversation_id": conversation_id,
        "last_seq": detail["conversation"]["last_seq"], "resync": detail["resync"],
        "conversation": detail["conversation"], "notes": detail["notes"], "offers": detail["offers"],
    })
    return frames


def context_frame(user, conversation_id: int) -> dict:
    """The context panel of one conversation, asked for again when its cart or pages change."""
    conv = _readable_conversation(user, conversation_id)
    return {"type": "context", "conversation_id": conv.id, "context": conversation_context(conv)}


def search_products(user, query: str, site_key: str = "") -> dict:
    """Catalogue products of the agent's sites whose name or SKU contains `query` (all of them when empty)."""
    sites = user.agent_profile.sites.all()
    if site_key:
        sites = sites.filter(key=site_key)
    products = Product.objects.filter(site__in=sites).select_related("site")
    query = query.strip()
    if query:
        products = products.filter(Q(name__icontains=query) | Q(sku__icontains=query))
    return {
        "type": "products",
        "q": query,
        "site": site_key or None,
        "products": [
            {"site": p.site.key, "sku": p.sku, "name": p.name, "price": money(p.price),
             "currency": p.site.currency, "image_url": p.image_url or None, "url": p.url or None}
            for p in products.order_by("name")[:PRODUCT_RESULTS]
        ],
    }
