"""Agent presence from console sockets: online, away, and offline once every socket has been gone for the grace period.

Signs of life are a console socket opening, a `ping` (the console sends one
every CONSOLE_PING_SECONDS) and a socket closing; each stamps
`last_heartbeat_at`. An agent not already offline counts as gone when

- no console socket is open and the last sign of life is at least the grace
  period old (a clean close: the tab was closed, the laptop slept), or
- the last sign of life is at least grace + CONSOLE_PING_SECONDS old even
  though sockets are counted as open (they died without saying goodbye, e.g.
  the Daphne process serving them was killed).

The grace period is the site setting `presence_grace_seconds` (for an agent
of several sites, the longest of them). Going offline puts the agent's
active conversations back at the head of the queue, each with a system
message to the shopper. Every function takes `now` so tests control time.
"""
from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from chatdesk.events import agent_group, emit, site_agents_group

from .models import AgentProfile

log = logging.getLogger(__name__)

CONSOLE_PING_SECONDS = 20
DEFAULT_GRACE_SECONDS = 60
RETURNED_TEXT = (
    "Sorry, your agent got disconnected. You are back at the front of the queue: "
    "the next available agent will answer you right here."
)


def agent_frame(profile: AgentProfile, load: int | None = None) -> dict:
    from chatdesk.models import Conversation

    if load is None:
        load = Conversation.objects.filter(agent_id=profile.user_id, status=Conversation.ACTIVE).count()
    return {
        "id": profile.user_id,
        "username": profile.user.get_username(),
        "name": profile.display_name,
        "presence": profile.presence,
        "capacity": profile.capacity,
        "load": load,
    }


def _announce(profile: AgentProfile) -> None:
    frame = {"type": "agent", "agent": agent_frame(profile)}
    for site_id in profile.sites.values_list("id", flat=True):
        emit(site_agents_group(site_id), frame)


def staffing_changed(profile: AgentProfile) -> None:
    """After commit: route the agent's sites again and tell shoppers their new wait and the sites' availability."""
    from chatdesk.actions.availability import announce_availability
    from chatdesk.actions.queue import queue_changed

    for site in profile.sites.all():
        queue_changed(site, agents=False)
        announce_availability(site)


def grace_seconds(profile: AgentProfile) -> int:
    longest = profile.sites.aggregate(g=Max("presence_grace_seconds"))["g"]
    return DEFAULT_GRACE_SECONDS if longest is None else longest


def socket_opened(profile: AgentProfile, now: datetime | None = None) -> AgentProfile:
    """A console socket connected: the agent counts as online unless they chose away."""
    now = now or timezone.now()
    AgentProfile.objects.filter(pk=profile.pk).update(
        connected_sockets=Greatest(F("connected_sockets") + 1, Value(1)), last_heartbeat_at=now,
    )
    profile.refresh_from_db()
    if profile.presence == AgentProfile.OFFLINE:
        set_presence(profile, AgentProfile.ONLINE, now)
    return profile


def socket_closed(profile: AgentProfile, now: datetime | None = None) -> None:
    """A console socket went away; going offline waits for the grace period (see `sweep_presence`)."""
    now = now or timezone.now()
    AgentProfile.objects.filter(pk=profile.pk).update(
        connected_sockets=Greatest(F("connected_sockets") - 1, Value(0)), last_heartbeat_at=now,
    )
    left = AgentProfile.objects.filter(pk=profile.pk).values_list("connected_sockets", flat=True).first()
    if left == 0:
        schedule_presence_check(profile.pk, grace_seconds(profile) + 1)


def heartbeat(profile: AgentProfile, now: datetime | None = None) -> None:
    """A console `ping`: one cheap UPDATE; an agent the sweep had taken offline while a socket lived comes back."""
    now = now or timezone.now()
    updated = AgentProfile.objects.filter(pk=profile.pk).exclude(presence=AgentProfile.OFFLINE).update(
        last_heartbeat_at=now,
    )
    if not updated:
        socket_opened(profile, now)


def set_presence(profile: AgentProfile, status: str, now: datetime | None = None) -> AgentProfile:
    """Set online or away (the agent's choice) or offline (the sweep's); routing and availability follow."""
    from chatdesk.actions.availability import give_waiting_left_messages

    now = now or timezone.now()
    with transaction.atomic():
        changed = profile.presence != status
        profile.presence = status
        profile.presence_changed_at = now
        profile.save(update_fields=["presence", "presence_changed_at"])
        _announce(profile)
        emit(agent_group(profile.user_id), {"type": "presence", "status": status})
        if status == AgentProfile.ONLINE:
            give_waiting_left_messages(profile, now)
        if changed:
            staffing_changed(profile)
    return profile


def is_gone(profile: AgentProfile, now: datetime, grace: int) -> bool:
    """See the module docstring: no socket for `grace` seconds, or silence for grace + one ping interval."""
    last = profile.last_heartbeat_at or profile.presence_changed_at
    if last is None:
        return True
    quiet = (now - last).total_seconds()
    if profile.connected_sockets <= 0:
        return quiet >= grace
    return quiet >= grace + CONSOLE_PING_SECONDS


def go_offline(profile_id: int, now: datetime, only_if_gone: bool = True) -> bool:
    """Take an agent offline and put their active conversations back at the head of the queue."""
    from chatdesk.actions.conversations import requeue_locked
    from chatdesk.models import Assignment, Conversation

    with transaction.atomic():
        # Lock order: the agent's profile, then their conversations.
        profile = AgentProfile.objects.select_for_update(of=("self",)).filter(pk=profile_id).select_related("user").first()
        if profile is None or profile.presence == AgentProfile.OFFLINE:
            return False
        if only_if_gone and not is_gone(profile, now, grace_seconds(profile)):
            return False  # a socket came back while we were deciding
        profile.presence = AgentProfile.OFFLINE
        profile.presence_changed_at = now
        profile.connected_sockets = 0  # whatever sockets were counted are dead
        profile.save(update_fields=["presence", "presence_changed_at", "connected_sockets"])
        held = list(
            Conversation.objects.select_for_update(of=("self",))
            .filter(agent_id=profile.user_id, status=Conversation.ACTIVE)
            .select_related("site", "visitor", "cart")
            .order_by("-created_at", "-id")  # the oldest goes to the head last, so it ends up first
        )
        for conv in held:
            requeue_locked(conv, now, Assignment.RETURNED, RETURNED_TEXT)
        _announce(profile)
        emit(agent_group(profile.user_id), {"type": "presence", "status": AgentProfile.OFFLINE})
        staffing_changed(profile)
    log.info("agent %s went offline; %d conversations returned to the queue", profile.user_id, len(held))
    return True


def sweep_presence(now: datetime) -> list[int]:
    """Take offline every agent who is gone at `now`; returns their user ids."""
    gone = []
    for profile in AgentProfile.objects.exclude(presence=AgentProfile.OFFLINE):
        if is_gone(profile, now, grace_seconds(profile)) and go_offline(profile.pk, now):
            gone.append(profile.user_id)
    return gone


def schedule_presence_check(profile_id: int, delay: int) -> None:
    """Ask the task queue to look at this agent again when their grace period is over (the minute sweep backs it up)."""
    try:
        from chatdesk.tasks.routing import check_agent_presence

        check_agent_presence.schedule((profile_id,), delay=delay)
    except Exception:  # a task queue outage must not break a socket's close
        log.warning("could not schedule the presence check of agent profile %s", profile_id, exc_info=True)
