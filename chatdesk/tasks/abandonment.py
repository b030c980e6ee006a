"""Huey tasks for abandonment: once a minute, mark the carts that became abandoned (METRICS.md).

Locked, so that two workers never run it at once; the rules are in
`chatdesk.actions.abandonment.detect_abandoned`, which takes `now`.
"""
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from ..actions import abandonment

LOCK = "chatdesk-abandonment"


@db_periodic_task(crontab(minute="*"))
@lock_task(LOCK)
def detect_abandoned_task() -> int:
    return len(abandonment.detect_abandoned(timezone.now()))
