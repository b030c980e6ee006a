"""Routing follows changes made outside the sockets (the admin): capacity, team and site membership, routing mode."""
from __future__ import annotations

from django.db.models import Q
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from chatdesk.events import agent_group, emit_layer_event
from chatdesk.models import Site

from .models import AgentProfile, Team


@receiver(pre_save, sender=AgentProfile)
def _remember_capacity(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and "capacity" not in update_fields):
        instance._capacity_before = None
        return
    instance._capacity_before = AgentProfile.objects.filter(pk=instance.pk).values_list("capacity", flat=True).first()


@receiver(post_save, sender=AgentProfile)
def _capacity_changed(sender, instance, created, **kwargs):
    before = getattr(instance, "_capacity_before", None)
    if created or before is None or before == instance.capacity:
        return
    from .presence import _announce, staffing_changed

    _announce(instance)
    staffing_changed(instance)


def _present(profile_ids) -> list[int]:
    """User ids of these agents who have a console open or count as present: only they are affected."""
    return list(
        AgentProfile.objects.filter(pk__in=list(profile_ids))
        .filter(Q(connected_sockets__gt=0) | ~Q(presence=AgentProfile.OFFLINE))
        .values_list("user_id", flat=True)
    )


def _membership_changed(instance, pk_set, reverse_model, action):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    from chatdesk.actions.queue import queue_changed

    if isinstance(instance, AgentProfile):
        profile_ids = [instance.pk]
        site_ids = set(instance.sites.values_list("id", flat=True))
        if reverse_model is Site:
            site_ids |= set(pk_set or ())
    else:  # the reverse side: a team's members or a site's agents changed
        profile_ids = list(pk_set or ())
        site_ids = {instance.site_id if isinstance(instance, Team) else instance.pk}
    # An offline agent with no console open sees nothing and counts for no
    # queue: adding one (as every set-up does) changes nothing to tell.
    present = _present(profile_ids)
    if not present:
        return
    for user_id in present:
        # Their consoles re-join their site and team groups and get a fresh `state`.
        emit_layer_event(agent_group(user_id), {"type": "console.regroup"})
    for site_id in site_ids:
        queue_changed(site_id)


@receiver(m2m_changed, sender=AgentProfile.teams.through)
def _teams_changed(sender, instance, action, pk_set, **kwargs):
    _membership_changed(instance, pk_set, Team, action)


@receiver(m2m_changed, sender=AgentProfile.sites.through)
def _sites_changed(sender, instance, action, pk_set, **kwargs):
    _membership_changed(instance, pk_set, Site, action)


@receiver(post_save, sender=Site)
def _site_saved(sender, instance, created, **kwargs):
    if not created and instance.routing_mode == Site.ROUTING_AUTO:
        from chatdesk.actions.queue import queue_changed

        queue_changed(instance)
