"""The waiting list of a site: its order, each shopper's place, and the frames telling them."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from ..events import emit, site_agents_group, visitor_group
from ..models import Conversation, Site
from ..serialize import conversation_summary

DEFAULT_HANDLE_SECONDS = 240


def queued(site_ids) -> list[Conversation]:
    """Waiting conversations of these sites, highest priority first (ties: who waited longest)."""
    return list(
        Conversation.objects.filter(site_id__in=site_ids, status=Conversation.QUEUED)
        .select_related("visitor", "cart", "site", "team", "agent__agent_profile")
        .order_by("-priority_key", "queued_at", "id")
    )


def average_handle_seconds(site: Site) -> float:
    """Mean time from assignment to close over the site's 50 latest closed conversations."""
    recent = (
        Conversation.objects.filter(site=site, status=Conversation.CLOSED, assigned_at__isnull=False)
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:50]
    )
    durations = [(c - a).total_seconds() for a, c in recent if c and a and c > a]
    return sum(durations) / len(durations) if durations else DEFAULT_HANDLE_SECONDS


def online_capacity(site: Site) -> tuple[int, int]:
    """(agents online for the site, their free slots)."""
    from agents.models import AgentProfile

    online = AgentProfile.objects.filter(sites=site, presence=AgentProfile.ONLINE)
    count = online.count()
    capacity = online.aggregate(total=Sum("capacity"))["total"] or 0
    busy = Conversation.objects.filter(
        agent__agent_profile__in=online, status=Conversation.ACTIVE
    ).count()
    return count, max(capacity - busy, 0)


def estimate_wait(position: int, agents_online: int, free_slots: int, handle_seconds: float) -> int | None:
    """Seconds until a shopper at `position` (1-based) is likely answered; None when nobody is online."""
    if agents_online == 0:
        return None
    if position <= free_slots:
        return 15
    ahead = position - free_slots
    return int(round(ahead * handle_seconds / max(agents_online, 1)))


def broadcast_queue(site: Site, now: datetime | None = None) -> list[dict]:
    """After any change to the queue, tell each waiting shopper their place and agents the new order."""
    now = now or timezone.now()
    waiting = queued([site.id])
    agents_online, free = online_capacity(site)
    handle = average_handle_seconds(site)
    summaries = []
    for position, conv in enumerate(waiting, start=1):
        summaries.append(conversation_summary(conv, now))
        emit(
            visitor_group(conv.visitor.public_id),
            {
                "type": "queue",
                "conversation_id": conv.id,
                "position": position,
                "eta_seconds": estimate_wait(position, agents_online, free, handle),
                "agents_online": agents_online,
            },
        )
    emit(site_agents_group(site.id), {"type": "queue", "site": site.key, "queue": summaries})
    return summaries


def position_of(conversation: Conversation) -> int | None:
    if conversation.status != Conversation.QUEUED:
        return None
    ahead = Conversation.objects.filter(
        site_id=conversation.site_id, status=Conversation.QUEUED, priority_key__gt=conversation.priority_key
    ).count()
    ties = Conversation.objects.filter(
        site_id=conversation.site_id, status=Conversation.QUEUED, priority_key=conversation.priority_key,
        queued_at__lt=conversation.queued_at,
    ).count()
    return ahead + ties + 1
