"""What the routing sweep does each minute, as plain functions of `now`: missed conversations, presence, routing, availability.

The Huey task in chatdesk.tasks.routing only calls `routing_sweep(now)`;
tests call these functions with the time they choose.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from ..business_hours import is_open
from ..events import emit, visitor_group
from ..models import Conversation, Site
from .availability import announce_availability
from .queue import queue_changed, run_queue_changes

log = logging.getLogger(__name__)


def shopper_gone_q(cutoff: datetime) -> Q:
    """Visitors with no sign of life (socket open, ping, page, close) since `cutoff`.

    Time alone decides, not the socket count: a socket can die without a
    close (a killed process, a lost network), and then only the missing
    pings (every ~25 s) tell.
    """
    return Q(visitor__last_seen_at__lte=cutoff) | Q(visitor__last_seen_at__isnull=True, visitor__created_at__lte=cutoff)


def mark_missed(conversation_id: int, now: datetime) -> bool:
    """A waiting conversation whose shopper has gone becomes `missed` (it stays listed for follow-up)."""
    from .conversations import _leave_queue, _summary_query, emit_conversation

    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update(of=("self",))
            .filter(pk=conversation_id, status=Conversation.QUEUED)
            .select_related("site", "visitor")
            .first()
        )
        if conv is None:
            return False
        cutoff = now - timedelta(minutes=conv.site.missed_after_minutes)
        seen = conv.visitor.last_seen_at or conv.visitor.created_at
        if seen > cutoff:  # the shopper came back while we were deciding
            return False
        fields = ["status", "missed_at", *_leave_queue(conv, now)]
        conv.status = Conversation.MISSED
        conv.missed_at = now
        conv.save(update_fields=fields)
        conv = _summary_query().get(pk=conv.pk)
        emit_conversation(conv)
        # Should a forgotten socket still be open, it learns the conversation ended.
        emit(visitor_group(conv.visitor.public_id), {"type": "closed", "conversation_id": conv.id, "reason": "missed"})
        queue_changed(conv.site)
    return True


def sweep_missed(now: datetime) -> list[int]:
    """Mark missed every waiting conversation whose shopper has been gone for the site's `missed_after_minutes`."""
    missed = []
    for site in Site.objects.filter(conversations__status=Conversation.QUEUED).distinct():
        cutoff = now - timedelta(minutes=site.missed_after_minutes)
        ids = (
            Conversation.objects.filter(site=site, status=Conversation.QUEUED)
            .filter(shopper_gone_q(cutoff)).values_list("id", flat=True)
        )
        missed += [conv_id for conv_id in ids if mark_missed(conv_id, now)]
    return missed


def announce_opening_changes(now: datetime, since: datetime) -> list[int]:
    """Tell widgets of sites that opened or closed between `since` and `now` (business hours)."""
    changed = []
    for site in Site.objects.exclude(business_hours={}):
        if is_open(site.business_hours, site.timezone, now) != is_open(site.business_hours, site.timezone, since):
            announce_availability(site, now)
            changed.append(site.id)
    return changed


def routing_sweep(now: datetime, interval_seconds: int = 60) -> dict:
    """The minute job: presence, missed conversations, business-hours changes, and a routing pass over every site."""
    from agents.presence import sweep_presence

    offline = sweep_presence(now)
    missed = sweep_missed(now)
    opened_or_closed = announce_opening_changes(now, now - timedelta(seconds=interval_seconds))
    # A safety net: whatever an after-commit routing run missed (a crash
    # between commit and routing), this pass assigns and re-announces.
    auto_sites = set(Site.objects.filter(routing_mode=Site.ROUTING_AUTO, conversations__status=Conversation.QUEUED)
                     .values_list("id", flat=True))
    if auto_sites:
        run_queue_changes({site_id: False for site_id in auto_sites})
    result = {"offline": offline, "missed": missed, "availability_changed": opened_or_closed, "routed": sorted(auto_sites)}
    if offline or missed:
        log.info("routing sweep: %s", result)
    return result
