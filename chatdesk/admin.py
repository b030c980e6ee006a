"""Admin for the core domain: the supervisors' tool for running the floor.

History (messages, notes, offers, orders, carts and their events,
intervention and follow-up records) is shown, never edited: those admins
refuse add and change to everyone, and only a superuser may delete (for
erasure requests). Closing and reassigning conversations go through
chatdesk.actions.supervision so that shoppers and consoles are told.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import label_for_field, lookup_field
from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst

from . import interventions as intervention_logic
from . import models
from .csvout import csv_response
from .errors import ActionError

admin.site.site_header = "ChatDesk admin"
admin.site.site_title = "ChatDesk"
admin.site.index_title = "Run the floor"


# --- shared pieces ---------------------------------------------------------------

@admin.action(description="Export selected rows as CSV")
def export_csv(modeladmin, request, queryset):
    """The list's columns, as shown, for the selected rows."""
    fields = [f for f in modeladmin.get_list_display(request) if f != "action_checkbox"]
    header = [capfirst(str(label_for_field(f, modeladmin.model, modeladmin))) for f in fields]

    def rows():
        for obj in queryset.iterator(chunk_size=1000):
            yield [_plain(lookup_field(f, obj, modeladmin)[2]) for f in fields]

    name = modeladmin.model._meta.model_name
    return csv_response(f"chatdesk-{name}.csv", header, rows())


def _plain(value):
    # Columns that render HTML (links) export their text.
    from django.utils.html import strip_tags

    return strip_tags(str(value)) if value is not None else ""


admin.site.add_action(export_csv)


class HistoryAdmin(admin.ModelAdmin):
    """A record of what happened: nobody adds or edits it here; only a superuser may delete it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class HistoryInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def seconds_between(start, end) -> str:
    if not start or not end:
        return "–"
    return f"{(end - start).total_seconds():.0f} s"


def link(obj, label=None):
    if obj is None:
        return "–"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


# --- sites and catalogue -------------------------------------------------------------

@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "currency", "routing_mode", "target_wait_seconds", "attribution_window_hours",
                    "holdout_share", "api_key_prefix"]
    search_fields = ["key", "name"]
    readonly_fields = ["api_key_prefix", "created_at"]
    actions = ["issue_api_key"]
    fieldsets = [
        (None, {"fields": ["key", "name", "allowed_origins", "currency", "timezone", "api_key_prefix",
                           "webhook_secret", "created_at"]}),
        ("Metrics", {"fields": ["attribution_window_hours", "abandon_after_minutes", "holdout_share",
                                "offer_lifetime_minutes"]}),
        ("Routing and service levels", {"fields": [
            "routing_mode", "presence_grace_seconds", "missed_after_minutes", "target_wait_seconds",
            "weight_cart_value", "weight_checkout_step", "weight_wait", "weight_returning", "business_hours"]}),
        ("Widget", {"fields": ["accent_color", "greeting", "retention_days"]}),
        ("Follow-ups", {"fields": ["recovery_url"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        # The webhook secret signs the store's webhooks: superusers only.
        if request.user.is_superuser:
            return self.fieldsets
        first = dict(self.fieldsets[0][1])
        first["fields"] = [f for f in first["fields"] if f != "webhook_secret"]
        return [(None, first)] + list(self.fieldsets[1:])

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and not request.user.is_superuser:
            fields += ["key", "allowed_origins"]  # changing these breaks the store's embed
        return fields

    def has_issue_api_key_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # A new site gets its API key at once; only its hash is kept, so this message is the one chance to copy it.
        new_key = None if obj.api_key_hash else obj.set_api_key()
        super().save_model(request, obj, form, change)
        if new_key:
            self.message_user(request, f"API key for {obj.key} (shown once): {new_key}", messages.WARNING)

    @admin.action(description="Issue a new API key (the old one stops working)", permissions=["issue_api_key"])
    def issue_api_key(self, request, queryset):
        for site in queryset:
            raw = site.set_api_key()
            site.save(update_fields=["api_key_hash", "api_key_prefix"])
            self.message_user(request, f"New API key for {site.key} (shown once): {raw}", messages.WARNING)


@admin.register(models.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "site"]
    list_filter = ["site"]
    search_fields = ["sku", "name"]


# --- visitors --------------------------------------------------------------------------

class VisitorConversationInline(HistoryInline):
    model = models.Conversation
    fields = ["status", "agent", "created_at", "closed_at", "close_reason", "rating"]
    readonly_fields = fields
    show_change_link = True
    ordering = ["-created_at"]


@admin.register(models.Visitor)
class VisitorAdmin(HistoryAdmin):
    list_display = ["__str__", "site", "email", "identified", "checkout_step", "created_at", "last_seen_at"]
    list_filter = ["site", "identified", "consent_email", "consent_sms", "checkout_step"]
    search_fields = ["public_id", "email", "name", "phone"]
    date_hierarchy = "created_at"
    inlines = [VisitorConversationInline]


@admin.register(models.PageView)
class PageViewAdmin(HistoryAdmin):
    list_display = ["visitor", "url", "title", "checkout_step", "created_at"]
    list_filter = ["checkout_step", "visitor__site"]
    search_fields = ["url", "title", "visitor__public_id"]
    list_select_related = ["visitor"]
    raw_id_fields = ["visitor"]


# --- conversations ----------------------------------------------------------------------

class MessageInline(HistoryInline):
    model = models.Message
    fields = ["seq", "sender", "author_name", "text", "created_at"]
    readonly_fields = fields


class NoteInline(HistoryInline):
    model = models.Note
    fields = ["author_name", "text", "created_at"]
    readonly_fields = fields


class OfferInline(HistoryInline):
    model = models.Offer
    fields = ["kind", "title", "sku", "price", "discount_code", "status", "agent", "created_at", "responded_at"]
    readonly_fields = fields


class AssignmentInline(HistoryInline):
    model = models.Assignment
    fields = ["agent", "kind", "started_at", "ended_at", "end_reason"]
    readonly_fields = fields


class AttributedOrderInline(HistoryInline):
    model = models.Order
    fk_name = "conversation"
    verbose_name_plural = "attributed orders"
    fields = ["order_id", "total", "currency", "offer_revenue", "created_at"]
    readonly_fields = fields
    show_change_link = True


class CloseForm(forms.Form):
    reason = forms.ChoiceField(choices=[(code, label) for code, (label, _) in models.CLOSE_REASONS.items()])
    note = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class ReassignForm(forms.Form):
    to_agent = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="Give them to")

    def __init__(self, *args, site_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        load = Subquery(
            models.Conversation.objects.filter(agent=OuterRef("pk"), status=models.Conversation.ACTIVE)
            .order_by().values("agent").annotate(n=Count("pk")).values("n")
        )
        users = (
            get_user_model().objects.filter(agent_profile__sites__in=site_ids).distinct()
            .select_related("agent_profile").annotate(load=Coalesce(load, 0)).order_by("agent_profile__display_name")
        )
        field = self.fields["to_agent"]
        field.queryset = users
        field.label_from_instance = lambda u: (
            f"{u.agent_profile.display_name} ({u.agent_profile.presence}, {u.load}/{u.agent_profile.capacity})"
        )


@admin.register(models.Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "status", "agent", "visitor_link", "created_at", "wait", "first_response",
                    "close_reason", "rating", "cart_total"]
    list_filter = ["status", "site", ("agent", admin.RelatedOnlyFieldListFilter), "close_reason", "proactive",
                   "rating"]
    search_fields = ["=id", "visitor__public_id", "visitor__email", "visitor__name", "agent__username", "close_note"]
    list_select_related = ["site", "agent", "visitor", "cart"]
    date_hierarchy = "created_at"
    inlines = [MessageInline, NoteInline, OfferInline, AssignmentInline, AttributedOrderInline]
    actions = ["close_conversations", "reassign_conversations"]
    readonly_fields = ["site", "visitor", "status", "agent", "team", "created_at", "queued_at", "assigned_at",
                       "first_assigned_at", "first_agent_message_at", "last_message_at", "closed_at", "close_reason",
                       "close_note", "last_seq", "cart", "proactive", "rating", "rating_comment", "rated_at",
                       "wait_seconds", "over_target", "missed_at", "team_pinned"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # "change" lets a supervisor run the close and reassign actions from
        # the list; a conversation's own page stays read-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="visitor")
    def visitor_link(self, obj):
        return link(obj.visitor, obj.visitor.display_name)

    @admin.display(description="wait")
    def wait(self, obj):
        return seconds_between(obj.created_at, obj.first_assigned_at)

    @admin.display(description="first response")
    def first_response(self, obj):
        return seconds_between(obj.created_at, obj.first_agent_message_at)

    @admin.display(description="cart")
    def cart_total(self, obj):
        return f"{obj.cart.total} {obj.cart.currency}" if obj.cart_id else "–"

    def _intermediate(self, request, queryset, form, action, title, template):
        context = {
            **self.admin_site.each_context(request),
            "title": title, "opts": self.model._meta, "form": form, "queryset": queryset, "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, f"admin/chatdesk/conversation/{template}", context)

    def _run_each(self, request, queryset, fn, verb):
        done, refused = 0, []
        # One action per conversation: each has its own transaction, lock and events.
        for conv_id in queryset.values_list("pk", flat=True):
            try:
                fn(conv_id)
                done += 1
            except ActionError as err:
                refused.append(f"#{conv_id}: {err.detail}")
        if done:
            self.message_user(request, f"{verb} {done} conversation{'s' if done != 1 else ''}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not done: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Close selected conversations…", permissions=["change"])
    def close_conversations(self, request, queryset):
        from .actions.supervision import supervisor_close

        queryset = queryset.filter(status__in=models.Conversation.OPEN_STATUSES)
        if not queryset.exists():
            self.message_user(request, "None of the selected conversations is open.", messages.WARNING)
            return None
        form = CloseForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason, note = form.cleaned_data["reason"], form.cleaned_data["note"]
            self._run_each(request, queryset, lambda pk: supervisor_close(request.user, pk, reason, note), "Closed")
            return None
        return self._intermediate(request, queryset, form, "close_conversations", "Close conversations", "close.html")

    @admin.action(description="Reassign selected conversations…", permissions=["change"])
    def reassign_conversations(self, request, queryset):
        from .actions.supervision import supervisor_reassign

        queryset = queryset.filter(status__in=models.Conversation.OPEN_STATUSES)
        if not queryset.exists():
            self.message_user(request, "None of the selected conversations is open.", messages.WARNING)
            return None
        site_ids = set(queryset.values_list("site_id", flat=True))
        form = ReassignForm(request.POST if "apply" in request.POST else None, site_ids=site_ids)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["to_agent"]
            self._run_each(request, queryset, lambda pk: supervisor_reassign(request.user, pk, target), "Reassigned")
            return None
        return self._intermediate(request, queryset, form, "reassign_conversations", "Reassign conversations",
                                  "reassign.html")


@admin.register(models.Message)
class MessageAdmin(HistoryAdmin):
    list_display = ["conversation", "seq", "sender", "author_name", "excerpt", "created_at"]
    list_filter = ["sender", "conversation__site"]
    search_fields = ["text", "=conversation__id"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "author"]

    @admin.display(description="text")
    def excerpt(self, obj):
        return Truncator(obj.text).chars(80)


@admin.register(models.Note)
class NoteAdmin(HistoryAdmin):
    list_display = ["conversation", "author_name", "excerpt", "created_at"]
    list_filter = ["conversation__site"]
    search_fields = ["text", "author_name", "=conversation__id"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "author"]

    @admin.display(description="text")
    def excerpt(self, obj):
        return Truncator(obj.text).chars(80)


# --- carts and orders ----------------------------------------------------------------------

class CartSnapshotInline(HistoryInline):
    model = models.CartSnapshot
    fields = ["source", "data", "received_at"]
    readonly_fields = fields


class CartEventInline(HistoryInline):
    model = models.CartEvent
    fields = ["kind", "data", "source", "created_at"]
    readonly_fields = fields


class CartFollowUpInline(HistoryInline):
    model = models.FollowUp
    fields = ["channel", "status", "skip_reason", "due_at", "sent_at", "clicked_at"]
    readonly_fields = fields


class StateFilter(admin.SimpleListFilter):
    """Yes/no on whether a timestamp is set."""

    field = ""

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.field}__isnull": self.value() == "no"})
        return queryset


class AbandonedFilter(StateFilter):
    title, parameter_name, field = "abandoned", "abandoned", "abandoned_at"


class OrderedFilter(StateFilter):
    title, parameter_name, field = "ordered", "ordered", "ordered_at"


class AttributedFilter(StateFilter):
    title, parameter_name, field = "attributed to a conversation", "attributed", "conversation"


@admin.register(models.Cart)
class CartAdmin(HistoryAdmin):
    list_display = ["cart_token", "site", "visitor", "source", "total", "currency", "checkout_step",
                    "max_step_reached", "updated_at", "abandoned_at", "ordered_at"]
    list_filter = ["site", "source", "max_step_reached", AbandonedFilter, OrderedFilter]
    search_fields = ["cart_token", "email", "external_id", "visitor__public_id"]
    list_select_related = ["site", "visitor"]
    date_hierarchy = "created_at"
    inlines = [CartSnapshotInline, CartEventInline, CartFollowUpInline]


@admin.register(models.CartSnapshot)
class CartSnapshotAdmin(HistoryAdmin):
    list_display = ["cart", "source", "received_at"]
    list_filter = ["source", "cart__site"]
    search_fields = ["cart__cart_token"]
    list_select_related = ["cart"]


@admin.register(models.CartEvent)
class CartEventAdmin(HistoryAdmin):
    list_display = ["cart", "kind", "source", "data", "created_at"]
    list_filter = ["kind", "source", "cart__site"]
    search_fields = ["cart__cart_token"]
    list_select_related = ["cart"]
    date_hierarchy = "created_at"


class OrderLineInline(HistoryInline):
    model = models.OrderLine
    fields = ["sku", "name", "quantity", "unit_price"]
    readonly_fields = fields


@admin.register(models.Order)
class OrderAdmin(HistoryAdmin):
    list_display = ["order_id", "site", "total", "currency", "created_at", "conversation_link", "offer_revenue",
                    "source", "cancel_reason"]
    list_filter = ["site", "source", AttributedFilter, "cancel_reason", "currency"]
    search_fields = ["order_id", "email", "cart__cart_token"]
    list_select_related = ["site", "conversation"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]

    def get_queryset(self, request):
        # Cancelled and refunded orders are kept for the record: show them too.
        qs = models.Order.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    @admin.display(description="attributed to")
    def conversation_link(self, obj):
        return link(obj.conversation, f"conversation {obj.conversation_id}") if obj.conversation_id else "–"


@admin.register(models.OrderLine)
class OrderLineAdmin(HistoryAdmin):
    list_display = ["order", "sku", "name", "quantity", "unit_price"]
    list_filter = ["order__site"]
    search_fields = ["sku", "name", "order__order_id"]
    list_select_related = ["order"]


@admin.register(models.Offer)
class OfferAdmin(HistoryAdmin):
    list_display = ["id", "kind", "title", "sku", "price", "discount_code", "status", "agent", "conversation",
                    "created_at", "responded_at"]
    list_filter = ["kind", "status", "conversation__site", ("agent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "sku", "discount_code", "=conversation__id"]
    list_select_related = ["agent", "conversation"]
    date_hierarchy = "created_at"


# --- interventions -------------------------------------------------------------------------------

class InterventionRuleForm(forms.ModelForm):
    class Meta:
        model = models.InterventionRule
        fields = ["site", "trigger", "name", "enabled", "text", "conditions", "max_per_visitor", "order"]
        help_texts = {
            "conditions": (
                'All optional, all must hold. {"checkout_step": ["shipping", "payment"], "idle_seconds": 45, '
                '"min_cart_value": "50.00", "shipping_newly_shown": 120, "exit_intent": true, '
                '"returning_with_abandoned_cart": true, "url_pattern": "/checkout"} (url_pattern is a regular expression). '
                "Rules with exit_intent or url_pattern run in the widget; the others on the server "
                "(see docs/integration.md, section 5)."
            ),
        }

    def clean_conditions(self):
        try:
            return intervention_logic.validate_conditions(self.cleaned_data.get("conditions"))
        except intervention_logic.ConditionError as err:
            raise forms.ValidationError(str(err)) from None


@admin.register(models.InterventionRule)
class InterventionRuleAdmin(admin.ModelAdmin):
    form = InterventionRuleForm
    list_display = ["name", "trigger", "site", "enabled", "runs_in", "max_per_visitor", "order"]
    list_filter = ["site", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "trigger", "text"]

    @admin.display(description="runs in")
    def runs_in(self, obj):
        return "widget" if intervention_logic.runs_in_widget(obj.conditions or {}) else "server"


class InterventionEventInline(HistoryInline):
    model = models.InterventionEvent
    fields = ["trigger", "action", "rule", "created_at"]
    readonly_fields = fields


@admin.register(models.InterventionAssignment)
class InterventionAssignmentAdmin(HistoryAdmin):
    list_display = ["visitor", "site", "arm", "first_trigger", "assigned_at"]
    list_filter = ["site", "arm", "first_trigger"]
    search_fields = ["visitor__public_id", "first_trigger"]
    list_select_related = ["visitor", "site"]
    date_hierarchy = "assigned_at"
    inlines = [InterventionEventInline]


@admin.register(models.InterventionEvent)
class InterventionEventAdmin(HistoryAdmin):
    list_display = ["assignment", "trigger", "action", "created_at"]
    list_filter = ["action", "trigger", "assignment__arm"]
    search_fields = ["trigger", "assignment__visitor__public_id"]
    date_hierarchy = "created_at"


# --- routing -------------------------------------------------------------------------------------

@admin.register(models.Assignment)
class AssignmentAdmin(HistoryAdmin):
    list_display = ["conversation", "agent", "kind", "started_at", "ended_at", "end_reason"]
    list_filter = ["kind", "end_reason", "conversation__site", ("agent", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["conversation", "agent"]
    date_hierarchy = "started_at"


@admin.register(models.LeftMessage)
class LeftMessageAdmin(admin.ModelAdmin):
    """Messages shoppers left while the site was closed or nobody was online: follow-up tasks."""

    list_display = ["created_at", "site", "visitor", "email", "phone", "reason", "status", "agent", "done_at"]
    list_filter = ["status", "reason", "site", ("agent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["text", "email", "phone", "visitor__public_id"]
    list_select_related = ["site", "visitor", "agent"]
    date_hierarchy = "created_at"
    readonly_fields = ["site", "visitor", "conversation", "client_id", "text", "email", "phone", "reason",
                       "created_at", "assigned_at", "done_at", "done_by"]
    fields = readonly_fields[:8] + ["status", "agent", "done_note"] + readonly_fields[8:]
    raw_id_fields = ["agent"]

    def has_add_permission(self, request):
        return False  # shoppers leave them from the widget


# --- follow-ups ----------------------------------------------------------------------------------

@admin.register(models.FollowUpStep)
class FollowUpStepAdmin(admin.ModelAdmin):
    list_display = ["site", "channel", "delay_minutes", "min_cart_value", "enabled"]
    list_filter = ["site", "channel", "enabled"]


@admin.register(models.FollowUp)
class FollowUpAdmin(HistoryAdmin):
    list_display = ["cart", "channel", "status", "skip_reason", "recipient", "due_at", "sent_at", "clicked_at"]
    list_filter = ["status", "channel", "skip_reason", "cart__site"]
    search_fields = ["cart__cart_token", "recipient"]
    list_select_related = ["cart"]
    date_hierarchy = "due_at"


@admin.register(models.CallTask)
class CallTaskAdmin(admin.ModelAdmin):
    list_display = ["cart", "agent", "outcome", "created_at", "done_at"]
    list_filter = ["outcome", "cart__site", ("agent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["cart__cart_token", "note"]
    readonly_fields = ["followup", "cart", "created_at"]
    raw_id_fields = ["agent"]

    def has_add_permission(self, request):
        return False  # call tasks come from the follow-up schedule


@admin.register(models.ContactOptOut)
class ContactOptOutAdmin(admin.ModelAdmin):
    list_display = ["address", "channel", "site", "source", "created_at"]
    list_filter = ["site", "channel", "source"]
    search_fields = ["address"]

    def has_change_permission(self, request, obj=None):
        return False  # an opt-out is honoured as given; record a new one instead

    def save_model(self, request, obj, form, change):
        # Stored the way the follow-up rules compare addresses (lower-case email, + and digits).
        from .actions.followups import normalise_address

        obj.address = normalise_address(obj.channel, obj.address) or obj.address
        obj.source = obj.source or "admin"
        super().save_model(request, obj, form, change)


# --- webhooks ------------------------------------------------------------------------------------

@admin.register(models.WebhookDelivery)
class WebhookDeliveryAdmin(HistoryAdmin):
    list_display = ["platform", "topic", "delivery_id", "site", "received_at"]
    list_filter = ["platform", "site", "topic"]
    search_fields = ["delivery_id"]
    date_hierarchy = "received_at"
