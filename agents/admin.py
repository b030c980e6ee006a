"""Admin registrations for agents, teams and canned replies."""
from django.contrib import admin

from .models import AgentProfile, CannedReply, Team


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "capacity", "presence"]
    list_filter = ["presence", "sites"]
    filter_horizontal = ["sites", "teams"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "min_cart_value", "order"]
    list_filter = ["site"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "site"]
    list_filter = ["site"]
    search_fields = ["shortcut", "title", "text"]
