"""Routing records: who held a conversation when (assignments), and messages left when nobody could answer."""
from django.conf import settings
from django.db import models

from .conversations import Conversation
from .sites import Site
from .visitors import Visitor


class Assignment(models.Model):
    """One stretch of a conversation held by one agent: how it began and how it ended.

    At most one stretch per conversation is open (a database constraint), so a
    conversation can never be held by two agents at once, whatever the races.
    """

    CLAIM, AUTO, TRANSFER = "claim", "auto", "transfer"
    KIND_CHOICES = [(CLAIM, "Claimed"), (AUTO, "Assigned automatically"), (TRANSFER, "Transferred in")]
    CLOSED, TRANSFERRED, REQUEUED, RETURNED = "closed", "transferred", "requeued", "returned"
    END_CHOICES = [
        (CLOSED, "Closed"), (TRANSFERRED, "Transferred to another agent"),
        (REQUEUED, "Transferred to a queue"), (RETURNED, "Returned: the agent went offline"),
    ]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="assignments")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="assignments")
    kind = models.CharField(max_length=8, choices=KIND_CHOICES)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, choices=END_CHOICES, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=models.Q(ended_at__isnull=True), name="assignment_one_open_per_conversation",
            ),
        ]
        indexes = [models.Index(fields=["agent", "started_at"])]

    def __str__(self):
        return f"{self.conversation_id} -> {self.agent_id} ({self.kind})"


class LeftMessage(models.Model):
    """A message a shopper left while the site was closed or no agent was online: a follow-up task for an agent."""

    OPEN, DONE = "open", "done"
    STATUS_CHOICES = [(OPEN, "To follow up"), (DONE, "Done")]
    CLOSED, NO_AGENTS = "closed", "no_agents"
    REASON_CHOICES = [(CLOSED, "Outside business hours"), (NO_AGENTS, "No agent online"), ("", "Agents were available")]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="left_messages")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="left_messages")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="left_messages",
        help_text="The shopper's open (or last) conversation when they left the message.",
    )
    client_id = models.CharField(max_length=64)
    text = models.TextField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=10, choices=REASON_CHOICES, blank=True)
    status = models.CharField(max_length=4, choices=STATUS_CHOICES, default=OPEN)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="left_messages",
        help_text="Who is to follow up: the next agent online.",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    done_note = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["visitor", "client_id"], name="left_message_unique_client_id")]
        indexes = [models.Index(fields=["site", "status", "created_at"])]

    def __str__(self):
        return f"Left message {self.pk} ({self.status})"
