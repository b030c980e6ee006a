"""Follow-ups for abandoned carts: the site's schedule, every send (recorded before it goes), call tasks."""
from decimal import Decimal

from django.conf import settings
from django.db import models

from .carts import Cart
from .sites import Site


class FollowUpStep(models.Model):
    EMAIL, SMS, CALL = "email", "sms", "call"
    CHANNEL_CHOICES = [(EMAIL, "Email"), (SMS, "SMS"), (CALL, "Call task")]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="followup_steps")
    channel = models.CharField(max_length=5, choices=CHANNEL_CHOICES)
    delay_minutes = models.PositiveIntegerField(help_text="After the cart was abandoned.")
    min_cart_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "delay_minutes", "id"]

    def __str__(self):
        return f"{self.channel} after {self.delay_minutes} min"


class FollowUp(models.Model):
    """One scheduled contact for one cart and step; unique so that a retried task is a no-op.

    `pending` -> `sending` (recorded, committed, then handed to the provider)
    -> `sent` or `failed`; or `pending` -> `skipped` (with `skip_reason`). A
    row left in `sending` by a crashed worker is never retried: at most once.
    `sent_at` is when the shopper was contacted through this step (for a call,
    when the agent recorded reaching them or leaving a voicemail).
    """

    PENDING, SENDING, SENT, SKIPPED, FAILED = "pending", "sending", "sent", "skipped", "failed"
    STATUS_CHOICES = [(s, s) for s in (PENDING, SENDING, SENT, SKIPPED, FAILED)]

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="followups")
    step = models.ForeignKey(FollowUpStep, on_delete=models.CASCADE, related_name="followups")
    channel = models.CharField(max_length=5)
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=PENDING)
    skip_reason = models.CharField(max_length=40, blank=True)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cart", "step"], name="followup_once_per_step")]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            # Reports: "a follow-up of this cart sent from t on" (abandoned-cart contact and recovery).
            models.Index(fields=["cart", "sent_at"], condition=models.Q(sent_at__isnull=False), name="followup_sent_idx"),
        ]


class CallTask(models.Model):
    REACHED, VOICEMAIL, NO_ANSWER, WRONG_NUMBER, RECOVERED = "reached", "voicemail", "no_answer", "wrong_number", "recovered"
    OUTCOME_CHOICES = [(o, o.replace("_", " ")) for o in (REACHED, VOICEMAIL, NO_ANSWER, WRONG_NUMBER, RECOVERED)]

    followup = models.OneToOneField(FollowUp, on_delete=models.CASCADE, related_name="call_task")
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="call_tasks")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=12, choices=OUTCOME_CHOICES, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["done_at", "created_at"])]


class ContactOptOut(models.Model):
    """An unsubscribe or an SMS stop word: honoured for every later follow-up to that address."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opt_outs")
    channel = models.CharField(max_length=5)
    address = models.CharField(max_length=254, help_text="Lower-case email, or phone as + and digits.")
    source = models.CharField(max_length=20, blank=True, help_text="email_link, sms_stop, wrong_number, admin")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "channel", "address"], name="optout_unique")]
