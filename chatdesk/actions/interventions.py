"""Proactive prompts: recording what happened to one (extended by the interventions rules)."""
from __future__ import annotations

from ..models import Visitor


def record_intervention(visitor: Visitor, trigger: str, action: str) -> None:
    """Record a prompt's fate (`shown`, `accepted`, `dismissed`) for the visitor's assignment to `trigger`."""
    from ..interventions_hooks import record  # replaced by the interventions module when present

    record(visitor, trigger, action)
