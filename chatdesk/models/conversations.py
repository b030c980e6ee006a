"""Conversations between a shopper and agents, and their numbered messages."""
from django.conf import settings
from django.db import models

from .sites import Site
from .visitors import Visitor


class Conversation(models.Model):
    QUEUED, ACTIVE, CLOSED, MISSED = "queued", "active", "closed", "missed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (ACTIVE, "Active"), (CLOSED, "Closed"), (MISSED, "Missed")]
    OPEN_STATUSES = (QUEUED, ACTIVE)

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=QUEUED)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    team = models.ForeignKey("agents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(help_text="When it (last) entered the queue.")
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    first_agent_message_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=32, blank=True)
    close_note = models.TextField(blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    # Ordering key that already includes ageing: see chatdesk.routing.
    priority_key = models.FloatField(default=0.0)
    priority_boost = models.FloatField(
        default=0.0, help_text="Points added when it went back to the queue, so that it went to the head.",
    )
    team_pinned = models.BooleanField(
        default=False, help_text="Sent to its queue by an agent; the cart rules no longer move it.",
    )
    # What the reports count (METRICS.md "Service"); see docs/routing.md.
    wait_seconds = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="First wait: from created to first assigned (or to missed / closed unanswered).",
    )
    over_target = models.BooleanField(
        default=False, help_text="Waited in the queue longer than the site's target wait, at some point.",
    )
    missed_at = models.DateTimeField(null=True, blank=True)
    cart = models.ForeignKey("chatdesk.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    proactive = models.BooleanField(default=False, help_text="Started from a proactive prompt.")
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "status", "priority_key"]),
            models.Index(fields=["visitor", "created_at"]),
            models.Index(fields=["agent", "status"]),
            models.Index(fields=["site", "created_at"]),
            # Reports select by date range across all sites, or per agent.
            models.Index(fields=["created_at"]),
            models.Index(fields=["agent", "created_at"]),
            # Reports: "an agent conversation of this visitor / cart after t", answered from the index
            # alone (abandoned-cart contact and recovery look this up once per abandonment).
            models.Index(fields=["visitor", "created_at"], include=["first_agent_message_at", "agent"],
                         condition=models.Q(first_agent_message_at__isnull=False), name="conv_engaged_visitor_idx"),
            models.Index(fields=["cart", "created_at"], include=["first_agent_message_at", "agent"],
                         condition=models.Q(first_agent_message_at__isnull=False), name="conv_engaged_cart_idx"),
        ]

    def __str__(self):
        return f"Conversation {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Message(models.Model):
    SHOPPER, AGENT, SYSTEM = "shopper", "agent", "system"
    SENDER_CHOICES = [(SHOPPER, "Shopper"), (AGENT, "Agent"), (SYSTEM, "System")]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=8, choices=SENDER_CHOICES)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=~models.Q(client_id=""), name="message_unique_client_id"
            ),
        ]

    def __str__(self):
        return f"#{self.seq} {self.sender}: {self.text[:40]}"


class Note(models.Model):
    """An agent's internal note: never sent to the shopper, so it takes no `seq`."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=~models.Q(client_id=""), name="note_unique_client_id"
            ),
        ]
