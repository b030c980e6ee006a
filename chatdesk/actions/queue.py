"""The waiting list of a site: its order, each shopper's place and wait, and telling everyone after each change.

Every change that can move a shopper's place or wait (a conversation queued,
claimed, closed, transferred, missed or returned; an agent coming online,
going away or offline; a capacity change) calls `queue_changed(site)`. Once
the transaction commits, and once per site however many changes it held,
the site is routed automatically (in `auto` mode) and then every waiting
shopper gets a `queue` frame and every agent of the site gets the `queue`
frame of what they may take. Frames are sent on change, never on a timer.
"""
from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..events import agent_group, emit, visitor_group
from ..models import Conversation, Site
from ..serialize import conversation_summary

DEFAULT_HANDLE_SECONDS = 240  # until a site has closed conversations to learn from
HANDLE_SAMPLE = 50            # the site's latest closed conversations...
HANDLE_WINDOW = timedelta(days=7)  # ...within the last week
PICKUP_SECONDS = 15           # time for a free agent to pick up (claim, or the assignment to land)

_local = threading.local()


# How many waiting conversations a console is sent, highest priority first.
# Nobody reads further down a list than this, and with thousands waiting the
# whole list would make every `state` and `queue` frame megabytes (over the
# websocket's 1 MiB message limit); the frames carry the full count instead.
QUEUE_SHOWN = 200

# What a queue change tells agents (`queue_changed(site, agents=...)`): nothing
# (only the staffing changed), the whole list, or the list only where it is
# worth it. The last is for a conversation leaving the queue (claimed,
# assigned): its `conversation` frame already takes it off every console's
# list, and resending everyone's long list on each of 200 claims flooded the
# consoles (found by the bench). A short list is still resent, as the
# contract's `queue` frame promises (it costs little), and so is a list where
# a conversation beyond the shown ones moves up into view.
AGENTS_IF_OVERFLOW = "overflow"
SHORT_QUEUE = 50
_RANK = {False: 0, AGENTS_IF_OVERFLOW: 1, True: 2}


def _merge(a, b):
    return a if _RANK[a] >= _RANK[b] else b


def _ordered(qs):
    return qs.select_related("visitor", "cart", "site", "team", "agent__agent_profile").order_by(
        "-priority_key", "queued_at", "id"
    )


def queued(site_ids) -> list[Conversation]:
    """Waiting conversations of these sites, highest priority first (ties: who waited longest, then id)."""
    return list(_ordered(Conversation.objects.filter(site_id__in=site_ids, status=Conversation.QUEUED)))


def may_see(team_id: int | None, agent_team_ids) -> bool:
    """An agent sees a waiting conversation of their site if it is in the general queue or one of their teams."""
    return team_id is None or team_id in agent_team_ids


def _visible(profile, site_ids=None):
    if site_ids is None:
        site_ids = list(profile.sites.values_list("id", flat=True))
    team_ids = list(profile.teams.values_list("id", flat=True))
    return Conversation.objects.filter(
        Q(team__isnull=True) | Q(team_id__in=team_ids), site_id__in=site_ids, status=Conversation.QUEUED,
    )


def visible_queue(profile, site_ids=None, limit: int | None = None) -> list[Conversation]:
    """What this agent may see and take: their sites' general queues and their teams' queues (the first `limit`)."""
    qs = _ordered(_visible(profile, site_ids))
    return list(qs[:limit] if limit is not None else qs)


def visible_queue_totals(profile, site_ids=None) -> dict[str, int]:
    """How many conversations wait in what this agent may see, per site key (every one, not only those sent)."""
    rows = _visible(profile, site_ids).values("site__key").annotate(n=Count("pk")).values_list("site__key", "n")
    return dict(rows)


def average_handle_seconds(site: Site, now: datetime | None = None) -> float:
    """Mean seconds from (last) assignment to close over the site's latest closed conversations of the week."""
    now = now or timezone.now()
    recent = (
        Conversation.objects.filter(
            site=site, status=Conversation.CLOSED, assigned_at__isnull=False, closed_at__gte=now - HANDLE_WINDOW,
        )
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:HANDLE_SAMPLE]
    )
    durations = [(c - a).total_seconds() for a, c in recent if c and a and c > a]
    return sum(durations) / len(durations) if durations else DEFAULT_HANDLE_SECONDS


@dataclass
class Staffing:
    """Agents online for one queue: how many, their total capacity, and their free slots now."""

    agents_online: int = 0
    capacity: int = 0
    free: int = 0


def agent_loads(user_ids) -> dict[int, int]:
    """Active conversations held by each of these agents (on any site: capacity is per agent)."""
    rows = (
        Conversation.objects.filter(agent_id__in=list(user_ids), status=Conversation.ACTIVE)
        .values("agent_id").annotate(n=Count("id")).values_list("agent_id", "n")
    )
    return dict(rows)


def team_memberships(profile_ids) -> dict[int, set[int]]:
    from agents.models import AgentProfile

    teams = defaultdict(set)
    for profile_id, team_id in AgentProfile.teams.through.objects.filter(
        agentprofile_id__in=list(profile_ids)
    ).values_list("agentprofile_id", "team_id"):
        teams[profile_id].add(team_id)
    return teams


def staffing(site: Site) -> dict[int | None, Staffing]:
    """Staffing of the general queue (key None) and of each team of the site, from agents online now."""
    from agents.models import AgentProfile, Team

    online = list(AgentProfile.objects.filter(sites=site, presence=AgentProfile.ONLINE))
    loads = agent_loads(p.user_id for p in online)
    teams = team_memberships(p.pk for p in online)
    result = {None: Staffing()}
    for team_id in Team.objects.filter(site=site).values_list("id", flat=True):
        result[team_id] = Staffing()
    for p in online:
        free = max(p.capacity - loads.get(p.user_id, 0), 0)
        for key in [None, *teams.get(p.pk, ())]:
            if key in result:
                s = result[key]
                s.agents_online += 1
                s.capacity += p.capacity
                s.free += free
    return result


def estimate_wait(position: int, staff: Staffing, handle_seconds: float) -> int | None:
    """Seconds until the shopper at `position` (1-based, in their queue) is likely answered.

    None when no agent is online for their queue. The first `free` shoppers
    are picked up at once (PICKUP_SECONDS). Everyone else waits for slots to
    free up: each agent holds `capacity` conversations that last
    `handle_seconds` on average, so a slot frees every handle / capacity
    seconds across the queue's online agents.
    """
    if staff.agents_online == 0 or staff.capacity == 0:
        return None
    ahead = max(position - staff.free, 0)
    return PICKUP_SECONDS + math.ceil(ahead * handle_seconds / staff.capacity)


def _positions(waiting: list[Conversation]) -> list[int]:
    """1-based place of each waiting conversation within its own queue (team), in queue order."""
    seen = defaultdict(int)
    places = []
    for conv in waiting:
        seen[conv.team_id] += 1
        places.append(seen[conv.team_id])
    return places


def shopper_frame(conv: Conversation, position: int, staff: Staffing, handle: float) -> dict:
    return {
        "type": "queue",
        "conversation_id": conv.id,
        "position": position,
        "eta_seconds": estimate_wait(position, staff, handle),
        "agents_online": staff.agents_online,
    }


def queue_frames(site: Site, now: datetime | None = None, agents: bool = True) -> list[tuple[str, dict]]:
    """Every frame a change to `site`'s queue sends: one per waiting shopper, and (`agents`) one per agent watching."""
    from agents.models import AgentProfile

    now = now or timezone.now()
    waiting = queued([site.id])
    staff = staffing(site)
    handle = average_handle_seconds(site, now)
    frames = []
    for conv, position in zip(waiting, _positions(waiting)):
        frames.append((
            visitor_group(conv.visitor.public_id),
            shopper_frame(conv, position, staff.get(conv.team_id, Staffing()), handle),
        ))
    if not agents:
        return frames
    # Each agent with a console open gets what they may see: the general
    # queue plus their teams' queues, in the same priority order.
    watchers = list(
        AgentProfile.objects.filter(sites=site)
        .filter(Q(presence__in=(AgentProfile.ONLINE, AgentProfile.AWAY)) | Q(connected_sockets__gt=0))
        .values_list("pk", "user_id")
    )
    teams = team_memberships(pk for pk, _ in watchers)
    by_view: dict[frozenset, dict] = {}
    summaries: dict[int, dict] = {}  # made once, only for conversations some console is sent

    def summary(conv):
        if conv.id not in summaries:
            summaries[conv.id] = conversation_summary(conv, now)
        return summaries[conv.id]

    for pk, user_id in watchers:
        view = frozenset(teams.get(pk, ()))
        if view not in by_view:
            seen = [conv for conv in waiting if may_see(conv.team_id, view)]
            if agents == AGENTS_IF_OVERFLOW and SHORT_QUEUE < len(seen) < QUEUE_SHOWN:
                by_view[view] = None  # the whole list is on this console already
                continue
            by_view[view] = {"type": "queue", "site": site.key, "queue": [summary(c) for c in seen[:QUEUE_SHOWN]],
                             "total": len(seen)}
        if by_view[view] is not None:
            frames.append((agent_group(user_id), by_view[view]))
    return frames


def shopper_queue_frame(conversation: Conversation, position: int | None, now: datetime | None = None) -> dict | None:
    """The `queue` frame for one waiting conversation at `position` (position_of), e.g. for a shopper who just reconnected."""
    if position is None:
        return None
    staff = staffing(conversation.site).get(conversation.team_id, Staffing())
    return shopper_frame(conversation, position, staff, average_handle_seconds(conversation.site, now))


def position_of(conversation: Conversation) -> int | None:
    """1-based place in its own queue (team) by the queue order; None unless waiting."""
    if conversation.status != Conversation.QUEUED:
        return None
    same_queue = Conversation.objects.filter(
        site_id=conversation.site_id, status=Conversation.QUEUED, team_id=conversation.team_id,
    )
    key, at = conversation.priority_key, conversation.queued_at
    ahead = same_queue.filter(
        Q(priority_key__gt=key)
        | Q(priority_key=key, queued_at__lt=at)
        | Q(priority_key=key, queued_at=at, id__lt=conversation.id)
    ).count()
    return ahead + 1


# --- after-commit fan-out ------------------------------------------------------------------


def queue_changed(site, agents: bool = True) -> None:
    """Note that `site`'s queue changed; route and tell everyone after commit, once per site.

    `agents=False` when only the staffing changed (an agent came online, went
    away, freed a slot): the waiting list agents see is the same, so only
    shoppers are told their new wait (and the site is routed again).
    """
    site_id = getattr(site, "id", site)
    pending = getattr(_local, "pending", None)
    if pending is not None:  # already routing after a commit: that run will get to this site
        pending[site_id] = _merge(pending.get(site_id, False), agents)
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        run_queue_changes({site_id: agents})
        return
    for _sids, func, _robust in connection.run_on_commit:
        if getattr(func, "queue_sites", None) is not None and not func.has_run:
            func.queue_sites[site_id] = _merge(func.queue_sites.get(site_id, False), agents)
            return

    def after_commit():
        after_commit.has_run = True
        run_queue_changes(after_commit.queue_sites)

    after_commit.queue_sites = {site_id: agents}
    after_commit.has_run = False
    # robust: the change itself is committed; a failure here must not turn
    # the caller's success into an error (the minute sweep routes again).
    transaction.on_commit(after_commit, robust=True)


broadcast_queue = queue_changed  # the core's name for it


def run_queue_changes(sites, now: datetime | None = None) -> None:
    """For each site (a set of ids, or {id: tell_agents}): assign automatically in auto mode, then send `queue` frames."""
    from .assignment import auto_assign

    if not isinstance(sites, dict):
        sites = {site_id: True for site_id in sites}
    pending = getattr(_local, "pending", None)
    if pending is not None:
        for site_id, agents in sites.items():
            pending[site_id] = _merge(pending.get(site_id, False), agents)
        return
    pending = dict(sites)
    done = set()
    _local.pending = pending
    try:
        while set(pending) - done:
            site_id = min(set(pending) - done)
            done.add(site_id)
            site = Site.objects.filter(pk=site_id).first()
            if site is None:
                continue
            if site.routing_mode == Site.ROUTING_AUTO and auto_assign(site):
                pending[site_id] = _merge(pending[site_id], AGENTS_IF_OVERFLOW)
            # One transaction so that, outside a socket, the frames go out in one batch.
            with transaction.atomic():
                for group, frame in queue_frames(site, now, agents=pending[site_id]):
                    emit(group, frame)
    finally:
        _local.pending = None
