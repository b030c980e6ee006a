"""Admin for agents, teams and canned replies.

Supervisors manage all of them (not user accounts: superusers make those).
An agent in the `agents` group sees only the canned replies of the sites
they serve, and may add a reply only to one of those sites.
"""
from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from chatdesk.models import Conversation, Site
from chatdesk.permissions import is_supervisor

from .models import AgentProfile, CannedReply, Team


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "presence", "load", "capacity", "site_keys", "last_heartbeat_at"]
    list_filter = ["presence", "sites", "teams"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["sites", "teams"]
    readonly_fields = ["presence", "presence_changed_at", "last_heartbeat_at", "connected_sockets",
                       "last_assigned_at"]
    list_select_related = ["user"]

    def get_queryset(self, request):
        active = (
            Conversation.objects.filter(agent=OuterRef("user"), status=Conversation.ACTIVE)
            .order_by().values("agent").annotate(n=Count("pk")).values("n")
        )
        return super().get_queryset(request).annotate(_load=Coalesce(Subquery(active), 0)).prefetch_related("sites")

    def get_readonly_fields(self, request, obj=None):
        # The account a profile belongs to is fixed once made.
        return self.readonly_fields + (["user"] if obj is not None else [])

    @admin.display(description="load", ordering="_load")
    def load(self, obj):
        return obj._load

    @admin.display(description="sites")
    def site_keys(self, obj):
        return ", ".join(s.key for s in obj.sites.all())


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "min_cart_value", "order"]
    list_filter = ["site"]
    search_fields = ["name"]


def _served_site_ids(request):
    profile = getattr(request.user, "agent_profile", None)
    return list(profile.sites.values_list("id", flat=True)) if profile else []


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "site"]
    list_filter = ["site"]
    search_fields = ["shortcut", "title", "text"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("site")
        if is_supervisor(request.user):
            return qs
        return qs.filter(site_id__in=_served_site_ids(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "site" and not is_supervisor(request.user):
            kwargs["queryset"] = Site.objects.filter(id__in=_served_site_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
