"""Automatic assignment: each waiting conversation, highest priority first, goes to the online agent with the most spare capacity.

Only for sites whose `routing_mode` is `auto`; it runs after every change to
a site's queue or staffing (see `queue.queue_changed`) and from the periodic
routing sweep. Rules, in order:

1. Candidates are the site's agents whose presence is `online` (not away)
   and who hold fewer active conversations than their capacity.
2. The waiting conversations are taken in queue order; each goes to a
   candidate who may take it (general queue: any; a team's queue: members).
3. Among those, the one with the most spare capacity (capacity - load) wins;
   ties go to whoever has waited longest since their last assignment (never
   assigned counts as longest), then the lowest agent id.

Locking: one assignment is one transaction that first locks every online
agent profile of the site (ordered by id), then the conversation. Claims,
transfers and the presence sweep lock profiles before conversations too, so
two processes can race freely: no conversation is assigned twice and no
agent goes over capacity.
"""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.db import transaction
from django.db.models import Q

from ..models import Assignment, Conversation, Site
from .queue import agent_loads, may_see, team_memberships

NEVER = datetime.min.replace(tzinfo=dt_timezone.utc)
MAX_ASSIGNMENTS_PER_RUN = 1000  # a bound, not a limit anyone should meet


def best_agent(candidates, loads: dict[int, int]):
    """The candidate profile with the most spare capacity; ties: longest since last assignment, then lowest id."""
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda p: (-(p.capacity - loads.get(p.user_id, 0)), p.last_assigned_at or NEVER, p.pk),
    )


def assign_batch(site: Site, limit: int = 50) -> list[Conversation]:
    """Make up to `limit` automatic assignments on `site` in one transaction; [] when nobody free may take anything."""
    from agents.models import AgentProfile

    from .conversations import assign_locked

    made = []
    with transaction.atomic():
        ids = list(AgentProfile.objects.filter(sites=site, presence=AgentProfile.ONLINE).values_list("pk", flat=True))
        if not ids:
            return made
        profiles = list(
            AgentProfile.objects.select_for_update(of=("self",)).select_related("user")
            .filter(pk__in=ids, presence=AgentProfile.ONLINE).order_by("pk")
        )
        # Under these locks nobody else can add to these agents' loads, so the
        # counts below stay true while this transaction assigns.
        loads = agent_loads(p.user_id for p in profiles)
        free = [p for p in profiles if loads.get(p.user_id, 0) < p.capacity]
        if not free:
            return made
        teams = team_memberships(p.pk for p in free)
        team_ids = set().union(*teams.values()) if teams else set()
        waiting = list(
            Conversation.objects.filter(site=site, status=Conversation.QUEUED)
            .filter(Q(team__isnull=True) | Q(team_id__in=team_ids))
            .order_by("-priority_key", "queued_at", "id")
            .values_list("id", "team_id")[: limit * 4]
        )
        for conv_id, team_id in waiting:
            if len(made) >= limit or not free:
                break
            agent = best_agent([p for p in free if may_see(team_id, teams.get(p.pk, ()))], loads)
            if agent is None:
                continue
            conv = (
                Conversation.objects.select_for_update(of=("self",))
                .filter(pk=conv_id, status=Conversation.QUEUED, agent__isnull=True)
                .select_related("site")
                .first()
            )
            if conv is None:  # claimed or closed meanwhile
                continue
            made.append(assign_locked(conv, agent.user, agent, Assignment.AUTO))
            loads[agent.user_id] = loads.get(agent.user_id, 0) + 1
            if loads[agent.user_id] >= agent.capacity:
                free.remove(agent)
    return made


def assign_next(site: Site) -> Conversation | None:
    """Make one automatic assignment on `site`, or return None when there is none to make."""
    made = assign_batch(site, limit=1)
    return made[0] if made else None


def auto_assign(site: Site) -> list[Conversation]:
    """Assign on `site` until nobody free may take anything waiting; returns the assignments made."""
    made = []
    while len(made) < MAX_ASSIGNMENTS_PER_RUN:
        batch = assign_batch(site)
        if not batch:
            break
        made += batch
    return made
