"""Admin registrations for the core domain (supervisors' tool)."""
from django.contrib import admin

from . import models


class MessageInline(admin.TabularInline):
    model = models.Message
    extra = 0
    can_delete = False
    readonly_fields = ["seq", "sender", "author_name", "text", "client_id", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "currency", "routing_mode", "api_key_prefix"]
    search_fields = ["key", "name"]
    readonly_fields = ["api_key_prefix"]


@admin.register(models.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "site"]
    list_filter = ["site"]
    search_fields = ["sku", "name"]


@admin.register(models.Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["public_id", "site", "name", "email", "created_at", "last_seen_at"]
    list_filter = ["site"]
    search_fields = ["public_id", "email", "name"]


@admin.register(models.Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "status", "agent", "created_at", "closed_at", "close_reason", "rating"]
    list_filter = ["site", "status", "close_reason"]
    inlines = [MessageInline]
    raw_id_fields = ["visitor", "cart", "agent"]


@admin.register(models.Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["cart_token", "site", "source", "total", "currency", "checkout_step", "updated_at", "abandoned_at"]
    list_filter = ["site", "source", "checkout_step"]
    search_fields = ["cart_token", "email"]
    raw_id_fields = ["visitor"]


@admin.register(models.Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["order_id", "site", "total", "currency", "created_at", "conversation", "offer_revenue"]
    list_filter = ["site", "source"]
    search_fields = ["order_id"]
    raw_id_fields = ["cart", "visitor", "conversation"]


@admin.register(models.Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "title", "sku", "price", "discount_code", "status", "agent", "created_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["conversation"]
