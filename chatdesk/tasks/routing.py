"""Huey tasks for routing: the minute sweep and the presence check at the end of an agent's grace period.

The logic lives in plain functions of `now` (chatdesk.actions.sweeps,
agents.presence); these tasks only supply the clock. `lock_task` keeps two
workers (or two machines) from running the same sweep at once.
"""
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task


@db_periodic_task(crontab(minute="*"))
@lock_task("chatdesk-routing-sweep")
def routing_sweep_task():
    from chatdesk.actions.sweeps import routing_sweep

    return routing_sweep(timezone.now())


@db_task()
@lock_task("chatdesk-routing-sweep")
def check_agent_presence(profile_id: int):
    """Scheduled when an agent's last console socket closes, to run when their grace period is over."""
    from agents.presence import go_offline

    return go_offline(profile_id, timezone.now())
