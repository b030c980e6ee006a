"""Huey tasks for offers: expire the ones whose lifetime has passed, once a minute."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ..actions import offers


@db_periodic_task(crontab(minute="*"))
def expire_offers_task(now=None) -> int:
    # Safe with several workers: each offer expires through a conditional
    # update, so only one of them tells the sockets.
    return offers.expire_offers(now)
