"""Webhook deliveries already processed, remembered so that a platform's retry or a replay is ignored."""
from django.db import models

from .sites import Site


class WebhookDelivery(models.Model):
    SHOPIFY, WOOCOMMERCE = "shopify", "woocommerce"
    PLATFORM_CHOICES = [(SHOPIFY, "Shopify"), (WOOCOMMERCE, "WooCommerce")]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhook_deliveries")
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES)
    delivery_id = models.CharField(max_length=200, help_text="X-Shopify-Webhook-Id or X-WC-Webhook-Delivery-ID.")
    topic = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "platform", "delivery_id"], name="webhook_delivery_once"),
        ]
        indexes = [models.Index(fields=["received_at"])]

    def __str__(self):
        return f"{self.platform} {self.topic} {self.delivery_id}"
