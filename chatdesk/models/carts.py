"""Carts: the current state, every snapshot received, and the journey as events."""
from decimal import Decimal

from django.db import models

from .sites import Site
from .visitors import Visitor

CHECKOUT_STEPS = ["cart", "contact", "shipping", "payment", "review", "complete"]
CHECKOUT_STEP_ORDER = {step: i for i, step in enumerate(CHECKOUT_STEPS)}
ZERO = Decimal("0.00")


class Cart(models.Model):
    WIDGET, STORE = "widget", "store"
    SOURCE_CHOICES = [(WIDGET, "Widget (shopper's word)"), (STORE, "Store (trusted)")]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="carts")
    cart_token = models.CharField(max_length=200)
    visitor = models.ForeignKey(Visitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="carts")
    source = models.CharField(max_length=8, choices=SOURCE_CHOICES, default=WIDGET)
    currency = models.CharField(max_length=3, default="USD")
    items = models.JSONField(default=list, blank=True)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    checkout_step = models.CharField(max_length=16, default="cart")
    max_step_reached = models.CharField(max_length=16, default="cart")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    recovery_url = models.CharField(max_length=1000, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="Platform checkout id or token.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "cart_token"], name="cart_unique_token")]
        indexes = [
            models.Index(fields=["site", "abandoned_at"]),
            models.Index(fields=["visitor", "updated_at"]),
            # Reports: carts started in a date range (baseline conversion).
            models.Index(fields=["site", "created_at"]),
            models.Index(fields=["created_at"]),
            # Reports on PostgreSQL: carts that reached `contact`, read from the index alone (baseline
            # conversion by date; the abandoned carts' visitor and site). bench/reports_bench.py.
            models.Index(fields=["created_at"], include=["id", "visitor", "site", "ordered_at", "abandoned_at"],
                         condition=models.Q(max_step_reached__in=CHECKOUT_STEPS[1:]), name="cart_checkout_started_idx"),
        ]

    def __str__(self):
        return f"Cart {self.cart_token} {self.total} {self.currency}"


class CartSnapshot(models.Model):
    """Every cart body received, as received: the raw history behind the events."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="snapshots")
    source = models.CharField(max_length=16)
    data = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]


class CartEvent(models.Model):
    ITEM_ADDED = "item_added"
    ITEM_REMOVED = "item_removed"
    QUANTITY_CHANGED = "quantity_changed"
    STEP_CHANGED = "step_changed"
    SHIPPING_SHOWN = "shipping_shown"
    DISCOUNT_APPLIED = "discount_applied"
    ABANDONED = "abandoned"
    ORDERED = "ordered"
    KIND_CHOICES = [(k, k.replace("_", " ")) for k in (
        ITEM_ADDED, ITEM_REMOVED, QUANTITY_CHANGED, STEP_CHANGED, SHIPPING_SHOWN, DISCOUNT_APPLIED, ABANDONED, ORDERED
    )]

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, default="widget")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["cart", "created_at"]), models.Index(fields=["kind", "created_at"]),
            # Reports: abandonments in a date range and each cart's first one, from a small index alone.
            models.Index(fields=["created_at"], include=["cart", "id"], condition=models.Q(kind="abandoned"),
                         name="cartevent_abandoned_idx"),
        ]
