"""Huey tasks, one module per area; Huey's Django integration imports `chatdesk.tasks`."""
from . import abandonment, followups, interventions, offers, routing  # noqa: F401
