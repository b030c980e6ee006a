"""Orders from stores and offers made by agents: what chat is worth."""
from decimal import Decimal

from django.conf import settings
from django.db import models

from .carts import Cart
from .conversations import Conversation
from .sites import Site
from .visitors import Visitor

OFFER_KINDS = ["upsell", "cross_sell", "bundle", "discount", "free_shipping"]

# Abandonment reasons (METRICS.md) with Baymard's 2024 US shares where published.
CLOSE_REASONS = {
    "extra_costs": ("Extra costs too high", 48),
    "account_required": ("Account required", 26),
    "payment_trust": ("Didn't trust site with card", 25),
    "delivery_slow": ("Delivery too slow", 23),
    "checkout_complicated": ("Checkout too long or complicated", 22),
    "total_unclear": ("Total not shown up front", 21),
    "returns_policy": ("Returns policy", 18),
    "site_error": ("Site errors or crashes", 17),
    "payment_methods": ("Too few payment methods", 13),
    "card_declined": ("Card declined", 9),
    "product_question": ("Product question", None),
    "just_browsing": ("Just browsing", None),
    "other": ("Other", None),
}


class PlacedOrderManager(models.Manager):
    """Orders that still stand: a cancelled or refunded order counts nowhere.

    It is the default manager on purpose, so that every figure (conversion,
    attributed and offer revenue, recovered carts, the lift) leaves cancelled
    orders out without each query having to remember. `Order.all_objects`
    sees them all (upserts, admin, privacy).
    """

    def get_queryset(self):
        return super().get_queryset().filter(cancelled_at__isnull=True)


class Order(models.Model):
    CANCELLED, REFUNDED = "cancelled", "refunded"
    CANCEL_REASONS = [(CANCELLED, "Cancelled"), (REFUNDED, "Refunded")]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=100)
    cart = models.ForeignKey(Cart, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    visitor = models.ForeignKey(Visitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    source = models.CharField(max_length=16, default="api")
    # The join keys as the store sent them, kept even when no cart was known
    # yet: a checkout webhook that arrives after its order still finds it.
    cart_token = models.CharField(max_length=200, blank=True)
    checkout_token = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    discount_codes = models.JSONField(default=list, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="attributed_orders"
    )
    attributed_at = models.DateTimeField(null=True, blank=True)
    offer_revenue = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=16, blank=True, choices=CANCEL_REASONS)

    objects = PlacedOrderManager()
    all_objects = models.Manager()

    class Meta:
        base_manager_name = "all_objects"
        constraints = [models.UniqueConstraint(fields=["site", "order_id"], name="order_unique_id")]
        indexes = [
            models.Index(fields=["site", "created_at"]),
            # Conversion: "a standing order attributed to this conversation", from the index alone (the
            # foreign key's own index serves every other lookup by conversation).
            models.Index(fields=["conversation"], condition=models.Q(cancelled_at__isnull=True),
                         name="order_placed_conversation_idx"),
            models.Index(fields=["created_at"]),  # reports across all sites
            models.Index(fields=["site", "cart_token"]), models.Index(fields=["site", "checkout_token"]),
            # Reports: "a standing order of this cart / visitor from t on" (recovery, baseline, intervention
            # lift), answered from the index alone: partial like the default manager (PlacedOrderManager).
            models.Index(fields=["cart", "created_at"], condition=models.Q(cancelled_at__isnull=True),
                         name="order_cart_created_idx"),
            models.Index(fields=["visitor", "created_at"], condition=models.Q(cancelled_at__isnull=True),
                         name="order_visitor_created_idx"),
        ]

    def __str__(self):
        return f"Order {self.order_id} {self.total} {self.currency}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)


class Offer(models.Model):
    PROPOSED, ACCEPTED, DECLINED, EXPIRED = "proposed", "accepted", "declined", "expired"
    STATUS_CHOICES = [(s, s.title()) for s in (PROPOSED, ACCEPTED, DECLINED, EXPIRED)]
    KIND_CHOICES = [(k, k.replace("_", " ")) for k in OFFER_KINDS]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="offers")
    client_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    title = models.CharField(max_length=200)
    sku = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    discount_code = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PROPOSED)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=~models.Q(client_id=""), name="offer_unique_client_id"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            # Reports: offers made in a date range, overall and per agent.
            models.Index(fields=["created_at"]),
            models.Index(fields=["agent", "created_at"]),
        ]

    def __str__(self):
        return f"{self.kind}: {self.title} ({self.status})"
