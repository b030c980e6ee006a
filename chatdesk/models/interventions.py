"""Proactive prompts: the rules a site sets, each visitor's random arm, and what happened to each prompt."""
from django.db import models

from .sites import Site
from .visitors import Visitor


class InterventionRule(models.Model):
    """When to invite a shopper; conditions are all optional and all must hold (see docs/interventions)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="intervention_rules")
    trigger = models.SlugField(max_length=64, help_text="Stable name recorded with every prompt, e.g. shipping-shock.")
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    text = models.CharField(max_length=500, help_text="The invitation the shopper sees.")
    conditions = models.JSONField(default=dict, blank=True)
    max_per_visitor = models.PositiveIntegerField(default=1, help_text="Frequency cap: prompts per visitor.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["site", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["site", "trigger"], name="rule_unique_trigger")]

    def __str__(self):
        return f"{self.name} ({self.trigger})"


class InterventionAssignment(models.Model):
    """A visitor's arm, drawn once at random the first time they meet any rule, and never changed."""

    TREATMENT, HOLDOUT = "treatment", "holdout"
    ARM_CHOICES = [(TREATMENT, "Treatment (prompt shown)"), (HOLDOUT, "Holdout (never prompted)")]

    visitor = models.OneToOneField(Visitor, on_delete=models.CASCADE, related_name="intervention_assignment")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="intervention_assignments")
    arm = models.CharField(max_length=10, choices=ARM_CHOICES)
    first_trigger = models.CharField(max_length=64)
    assigned_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["site", "assigned_at"]), models.Index(fields=["assigned_at"])]


class InterventionEvent(models.Model):
    """One thing that happened to a prompt: triggered (met the rule), shown, accepted, dismissed."""

    TRIGGERED, SHOWN, ACCEPTED, DISMISSED = "triggered", "shown", "accepted", "dismissed"
    ACTION_CHOICES = [(a, a) for a in (TRIGGERED, SHOWN, ACCEPTED, DISMISSED)]

    assignment = models.ForeignKey(InterventionAssignment, on_delete=models.CASCADE, related_name="events")
    rule = models.ForeignKey(InterventionRule, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=64)
    action = models.CharField(max_length=10, choices=ACTION_CHOICES)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["trigger", "action"])]
