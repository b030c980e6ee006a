"""Who answers: agent profiles on Django users, teams (queues) and canned replies."""
from django.conf import settings
from django.db import models


class Team(models.Model):
    """A queue of conversations that a group of agents answers (e.g. "High value")."""

    site = models.ForeignKey("chatdesk.Site", on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    min_cart_value = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="Carts at or over this value are routed to this queue.",
    )
    order = models.PositiveIntegerField(default=0, help_text="Rules are tried in this order.")

    class Meta:
        ordering = ["site", "order", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="team_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.site.key})"


class AgentProfile(models.Model):
    ONLINE, AWAY, OFFLINE = "online", "away", "offline"
    PRESENCE_CHOICES = [(ONLINE, "Online"), (AWAY, "Away"), (OFFLINE, "Offline")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    display_name = models.CharField(max_length=100)
    capacity = models.PositiveIntegerField(default=5)
    presence = models.CharField(max_length=8, choices=PRESENCE_CHOICES, default=OFFLINE)
    presence_changed_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    connected_sockets = models.IntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    sites = models.ManyToManyField("chatdesk.Site", related_name="agents", blank=True)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)

    def __str__(self):
        return self.display_name


class CannedReply(models.Model):
    """A saved reply, inserted in the composer with `/shortcut`; {name} and {cart_total} are filled in."""

    site = models.ForeignKey("chatdesk.Site", on_delete=models.CASCADE, related_name="canned_replies")
    shortcut = models.SlugField(max_length=40)
    title = models.CharField(max_length=100)
    text = models.TextField()

    class Meta:
        ordering = ["shortcut"]
        constraints = [models.UniqueConstraint(fields=["site", "shortcut"], name="canned_unique_shortcut")]
        verbose_name_plural = "canned replies"

    def __str__(self):
        return f"/{self.shortcut}"
