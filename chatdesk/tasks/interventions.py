"""Huey tasks for interventions: the idle conditions that no frame announces.

Once a minute the sweep fires the idle rules that are due and schedules a
precise re-check for those due before the next sweep, so a 45-second idle
rule fires at 45 seconds, not at the next whole minute.
"""
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from ..actions import interventions
from ..models import Visitor

LOCK = "chatdesk-interventions-idle"


@db_task()
def check_visitor_task(visitor_pk: int) -> list[str]:
    visitor = Visitor.objects.filter(pk=visitor_pk).first()
    return interventions.check_server_rules(visitor) if visitor else []


@db_periodic_task(crontab(minute="*"))
@lock_task(LOCK)
def idle_interventions_task() -> int:
    fired, later = interventions.sweep_idle(timezone.now())
    for visitor_pk, when in later:
        check_visitor_task.schedule((visitor_pk,), eta=when)
    return len(fired)
