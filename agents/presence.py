"""Agent presence from console sockets: online, away, offline after the grace period."""
from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from chatdesk.events import agent_group, emit, site_agents_group

from .models import AgentProfile


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


def socket_opened(profile: AgentProfile) -> AgentProfile:
    """A console socket connected: the agent counts as online unless they chose away."""
    now = timezone.now()
    AgentProfile.objects.filter(pk=profile.pk).update(connected_sockets=F("connected_sockets") + 1, last_heartbeat_at=now)
    profile.refresh_from_db()
    if profile.presence == AgentProfile.OFFLINE:
        set_presence(profile, AgentProfile.ONLINE)
    return profile


def socket_closed(profile: AgentProfile) -> None:
    """A console socket went away; going offline waits for the grace period (see routing tasks)."""
    AgentProfile.objects.filter(pk=profile.pk).update(
        connected_sockets=F("connected_sockets") - 1, last_heartbeat_at=timezone.now()
    )


def heartbeat(profile: AgentProfile) -> None:
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=timezone.now())


def set_presence(profile: AgentProfile, status: str) -> AgentProfile:
    profile.presence = status
    profile.presence_changed_at = timezone.now()
    profile.save(update_fields=["presence", "presence_changed_at"])
    _announce(profile)
    emit(agent_group(profile.user_id), {"type": "presence", "status": status})
    return profile
