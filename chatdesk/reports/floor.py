"""The live floor: who is waiting and for how long, and which agents have room, right now."""
from __future__ import annotations

from datetime import datetime, time, timezone as dt_timezone

from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.models import AgentProfile

from ..models import Conversation, Site
from ..serialize import iso, money
from .metrics import WAIT
from .sql import Epoch, percentiles

QUEUE_ROWS = 50  # the page lists the longest waits; counts cover everyone


def _waiting(site_ids):
    qs = Conversation.objects.filter(status=Conversation.QUEUED)
    return qs if site_ids is None else qs.filter(site_id__in=site_ids)


def floor_snapshot(site_ids: list[int] | None = None, now: datetime | None = None) -> dict:
    """Queue length and waits per site, the longest waiting conversations, agents' load against capacity."""
    now = now or timezone.now()
    now_epoch = now.timestamp()
    over = Q(_waited__gt=F("site__target_wait_seconds"))
    waiting = _waiting(site_ids).alias(_waited=Value(now_epoch) - Epoch("queued_at"))
    site_rows = {
        r["site_id"]: r for r in waiting.values("site_id").annotate(
            queue_length=Count("pk"), oldest=Min("queued_at"), over_target=Count("pk", filter=over)).order_by()
    }
    sites = Site.objects.all().order_by("name") if site_ids is None else Site.objects.filter(pk__in=site_ids)
    site_list = []
    for site in sites:
        row = site_rows.get(site.pk, {})
        oldest = row.get("oldest")
        site_list.append({
            "key": site.key, "name": site.name, "target_wait_seconds": site.target_wait_seconds,
            "queue_length": row.get("queue_length", 0), "over_target": row.get("over_target", 0),
            "oldest_queued_at": iso(oldest),
            "longest_wait_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        })

    queue = []
    for conv in (waiting.select_related("site", "visitor", "cart", "team").order_by("queued_at", "id")[:QUEUE_ROWS]):
        waited = (now - conv.queued_at).total_seconds()
        queue.append({
            "id": conv.id, "site": conv.site.key, "visitor": conv.visitor.display_name,
            "waiting_since": iso(conv.queued_at), "wait_s": round(waited, 1),
            "target_wait_seconds": conv.site.target_wait_seconds,
            "over_target": waited > conv.site.target_wait_seconds,
            "cart_total": money(conv.cart.total) if conv.cart_id else None,
            "currency": conv.cart.currency if conv.cart_id else conv.site.currency,
            "checkout_step": (conv.cart.checkout_step if conv.cart_id else None) or conv.visitor.checkout_step or None,
            "team": conv.team.name if conv.team_id else None,
        })

    load = Subquery(
        Conversation.objects.filter(agent=OuterRef("user"), status=Conversation.ACTIVE)
        .order_by().values("agent").annotate(n=Count("pk")).values("n")
    )
    profiles = AgentProfile.objects.all() if site_ids is None else AgentProfile.objects.filter(sites__in=site_ids)
    profiles = (profiles.distinct().select_related("user").prefetch_related("sites")
                .annotate(load=Coalesce(load, 0)).order_by("display_name"))
    order = {AgentProfile.ONLINE: 0, AgentProfile.AWAY: 1, AgentProfile.OFFLINE: 2}
    agents = sorted(
        ({"username": p.user.get_username(), "name": p.display_name, "presence": p.presence, "load": p.load,
          "capacity": p.capacity, "sites": sorted(s.key for s in p.sites.all())} for p in profiles),
        key=lambda a: (order.get(a["presence"], 3), -a["load"], a["name"]),
    )
    # An offline agent still holding conversations counts: their shoppers are waiting on them.
    working = [a for a in agents if a["presence"] != AgentProfile.OFFLINE or a["load"]]
    oldest = [s["longest_wait_s"] for s in site_list if s["longest_wait_s"] is not None]

    today_start = datetime.combine(now.astimezone(dt_timezone.utc).date(), time.min, tzinfo=dt_timezone.utc)
    today = Conversation.objects.filter(created_at__gte=today_start, created_at__lte=now)
    if site_ids is not None:
        today = today.filter(site_id__in=site_ids)
    counts = today.aggregate(conversations=Count("pk"), missed=Count("pk", filter=Q(status=Conversation.MISSED)))
    wait_p50 = percentiles(today.filter(first_assigned_at__isnull=False), WAIT, [0.5])[0]
    return {
        "type": "floor",
        "now": iso(now),
        "totals": {
            "queue_length": sum(s["queue_length"] for s in site_list),
            "longest_wait_s": max(oldest) if oldest else None,
            "over_target": sum(s["over_target"] for s in site_list),
            "agents_online": sum(1 for a in agents if a["presence"] == AgentProfile.ONLINE),
            "agents_away": sum(1 for a in agents if a["presence"] == AgentProfile.AWAY),
            "load": sum(a["load"] for a in working),
            "capacity": sum(a["capacity"] for a in agents if a["presence"] == AgentProfile.ONLINE),
        },
        "today": {**counts, "wait_p50_s": None if wait_p50 is None else round(wait_p50, 1)},
        "sites": site_list,
        "queue": queue,
        "agents": working,
    }
