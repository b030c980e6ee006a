"""Run the retention purge now (Huey runs it nightly): `manage.py purge_retention [--dry-run]`."""
import json

from django.core.management.base import BaseCommand
from django.db import transaction

from chatdesk.actions import privacy


class Command(BaseCommand):
    help = "Erase personal data older than each site's retention_days (figures stay). Prints counts as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")

    def handle(self, *args, **opts):
        with transaction.atomic():
            done = privacy.purge_expired()
            if opts["dry_run"]:
                transaction.set_rollback(True)
        self.stdout.write(json.dumps({"dry_run": opts["dry_run"], **done.as_dict()}))
