"""Visitors are shoppers known by a signed token kept in their browser."""
import uuid

from django.db import models

from .sites import Site


class Visitor(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Sockets come and go; `connected_sockets` is advisory, `last_seen_at` and
    # `disconnected_at` decide whether a shopper has gone.
    connected_sockets = models.IntegerField(default=0)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    identified = models.BooleanField(default=False, help_text="Identity vouched for by the store's signature.")
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    current_url = models.CharField(max_length=1000, blank=True)
    current_title = models.CharField(max_length=300, blank=True)
    checkout_step = models.CharField(max_length=16, blank=True)
    step_changed_at = models.DateTimeField(null=True, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)
    # A proactive start: when an agent last invited this shopper, and when the
    # shopper last accepted a prompt (a rule's or an agent's). The next
    # conversation opened soon after an acceptance is marked proactive.
    invited_at = models.DateTimeField(null=True, blank=True)
    prompt_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["site", "last_seen_at"])]

    def __str__(self):
        return self.name or self.email or f"Visitor {str(self.public_id)[:8]}"

    @property
    def display_name(self) -> str:
        return self.name or self.email or f"Visitor {str(self.public_id)[:4].upper()}"


class PageView(models.Model):
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="page_views")
    url = models.CharField(max_length=1000)
    title = models.CharField(max_length=300, blank=True)
    checkout_step = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["visitor", "created_at"])]
