"""Huey tasks for follow-ups: a scanner once a minute, and one delivery task per follow-up.

Restarts and retries are safe by construction (chatdesk.actions.followups):
the scanner's rows are unique per (cart, step), and a delivery does nothing
unless its row is still `pending`, so enqueuing the same delivery twice, a
second worker, or a worker restarted mid-run never sends anything twice.
"""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ..actions import followups


@db_task(retries=0)
def deliver_followup_task(followup_id: int, now=None):
    # No retries: a failed send is recorded as `failed`, never tried again (at most once).
    fu = followups.deliver_followup(followup_id, now)
    return fu.status if fu is not None else None


@db_periodic_task(crontab(minute="*"))
def followups_tick(now=None) -> int:
    """Create the follow-ups that fell due and enqueue a delivery for every pending one; returns how many."""
    followups.scan_followups(now)
    pending = followups.due_pending_ids(now)
    for pk in pending:
        deliver_followup_task(pk, now)
    return len(pending)
