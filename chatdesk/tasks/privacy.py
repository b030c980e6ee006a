"""Huey task for privacy: the nightly retention purge (chatdesk.actions.privacy.purge_expired)."""
import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task
from huey.exceptions import TaskLockedException

from ..actions import privacy

log = logging.getLogger(__name__)
LOCK = "chatdesk-retention-purge"


@db_periodic_task(crontab(hour="3", minute="17"))
def retention_purge_task(now=None) -> dict | None:
    # One purge at a time across workers and hosts: a slow night must not
    # overlap the next run. A run that finds the lock taken skips quietly.
    try:
        with HUEY.lock_task(LOCK):
            done = privacy.purge_expired(now)
    except TaskLockedException:
        log.info("retention purge already running; skipped")
        return None
    if any(done.as_dict().values()):
        log.warning("retention purge: %s", done.as_dict())
    return done.as_dict()
