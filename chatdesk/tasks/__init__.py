"""Huey tasks, one module per area; Huey's Django integration imports `chatdesk.tasks`."""
from . import abandonment, followups, interventions, offers, privacy, routing  # noqa: F401
