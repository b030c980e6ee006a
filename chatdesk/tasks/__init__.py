"""Huey tasks, one module per area; Huey's Django integration imports `chatdesk.tasks`."""
from . import abandonment, followups, offers, routing  # noqa: F401
