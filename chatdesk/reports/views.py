"""The supervisors' pages: /reports/ (figures and charts), CSV exports, the live floor and staff tokens."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from ..csvout import csv_response
from ..models import Site
from .auth import make_staff_token, max_age_seconds, supervisor_required
from .floor import floor_snapshot
from .metrics import summary
from .present import cards, tables
from .scope import ScopeError, parse_scope
from .series import all_series

DEFAULT_DAYS = 30
QUICK_RANGES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "12 months")]


def _today():
    return datetime.now(dt_timezone.utc).date()


def _filters(request, scope) -> dict:
    """Choices for the filter bar, and quick ranges that keep the site and agent chosen."""
    agents = (get_user_model().objects.filter(agent_profile__isnull=False).select_related("agent_profile")
              .order_by("agent_profile__display_name"))
    keep = {k: v for k, v in scope.as_params().items() if k in ("site", "agent")}
    today = _today()
    quick = []
    for days, label in QUICK_RANGES:
        first = today - timedelta(days=days - 1)
        params = {"from": first.isoformat(), "to": today.isoformat(), **keep}
        quick.append({"label": label, "query": urlencode(params),
                      "active": scope.first_day == first and scope.last_day == today})
    return {"sites": Site.objects.order_by("name"), "agents": agents, "quick_ranges": quick}


def _scope_or_errors(request):
    try:
        return parse_scope(request.GET, default_days=DEFAULT_DAYS), None
    except ScopeError as err:
        return parse_scope({}, default_days=DEFAULT_DAYS), err.errors


@require_GET
@supervisor_required
def reports_page(request):
    scope, errors = _scope_or_errors(request)
    figures = summary(scope)
    data = all_series(scope, figures)
    table_map = tables(figures, data)
    query = urlencode(scope.as_params())
    context = {
        "scope": scope, "errors": errors, "figures": figures, "cards": cards(figures), "tables": table_map,
        "chart_tables": [table_map[n] for n in ("over_time", "wait_distribution", "first_response_distribution",
                                                "reasons", "offers", "intervention", "load")],
        "query": query, "nav": "reports",
        "chart_data": {**data, "currency": figures["currency"], "summary": figures},
        **_filters(request, scope),
    }
    return render(request, "reports/reports.html", context, status=400 if errors else 200)


@require_GET
@supervisor_required
def export_csv(request, name: str):
    try:
        scope = parse_scope(request.GET, default_days=DEFAULT_DAYS)
    except ScopeError as err:
        return JsonResponse({"detail": f"invalid parameters: {err}", "errors": err.errors}, status=400)
    figures = summary(scope)
    table_map = tables(figures, all_series(scope, figures))
    table = table_map.get(name)
    if table is None:
        raise Http404(f"no table named {name}; tables: {', '.join(table_map)}")
    suffix = f"{scope.first_day}_{scope.last_day}"
    if scope.site:
        suffix += f"_{scope.site.key}"
    if scope.agent:
        suffix += f"_{scope.agent.get_username()}"
    return csv_response(f"chatdesk-{name}-{suffix}.csv", table.header, table.rows)


def _floor_sites(request):
    key = request.GET.get("site") or ""
    if not key:
        return None, None
    site = Site.objects.filter(key=key).first()
    if site is None:
        raise Http404(f"no site with key '{key}'")
    return [site.pk], site


@require_GET
@supervisor_required
def floor_page(request):
    site_ids, site = _floor_sites(request)
    return render(request, "reports/floor.html", {
        "snapshot": floor_snapshot(site_ids), "site": site, "sites": Site.objects.order_by("name"), "nav": "floor",
    })


@require_GET
@supervisor_required
def floor_json(request):
    """The floor as JSON: the page polls this when its websocket is down."""
    site_ids, _ = _floor_sites(request)
    return JsonResponse(floor_snapshot(site_ids))


@require_POST
@supervisor_required
def issue_token(request):
    """Show a new staff token once; it is never stored, so it cannot be shown again."""
    return render(request, "reports/token.html", {
        "token": make_staff_token(request.user), "days": max_age_seconds() // 86400,
    })


def landing(request):
    """Where `/` and a sign-in without `next` lead: supervisors who are not agents to the reports, others to the console."""
    from django.shortcuts import redirect

    from ..permissions import is_supervisor

    user = request.user
    if user.is_authenticated and is_supervisor(user) and not hasattr(user, "agent_profile"):
        return redirect("reports")
    return redirect("/console/")
