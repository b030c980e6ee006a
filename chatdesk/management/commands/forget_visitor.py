"""Erase a visitor's personal data on request: `manage.py forget_visitor --site KEY (--visitor UUID | --email ADDRESS)`."""
import json
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chatdesk.actions import privacy
from chatdesk.models import Site, Visitor


class Command(BaseCommand):
    help = ("Redact a visitor's messages, notes and comments, remove their contact details and journey; "
            "conversations, orders and their figures stay. Prints what was erased as JSON.")

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="the site key")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--visitor", help="the visitor's id (visitor_id in the widget and the API)")
        who.add_argument("--email", help="every visitor, cart and order of the site with this address")
        parser.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")

    def handle(self, *args, **opts):
        site = Site.objects.filter(key=opts["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {opts['site']!r}")
        with transaction.atomic():
            if opts["visitor"]:
                try:
                    public_id = uuid.UUID(opts["visitor"])
                except ValueError:
                    raise CommandError("--visitor must be a visitor id (a UUID)") from None
                visitor = Visitor.objects.filter(site=site, public_id=public_id).first()
                if visitor is None:
                    raise CommandError(f"no visitor {opts['visitor']} on {site.key}")
                done = privacy.erase_visitor(visitor)
            else:
                done = privacy.erase_by_email(site, opts["email"])
                if not done.visitors and not done.carts and not done.orders:
                    raise CommandError(f"nothing on {site.key} carries {opts['email']!r}")
            if opts["dry_run"]:
                transaction.set_rollback(True)
        report = {"site": site.key, "dry_run": opts["dry_run"], **done.as_dict()}
        self.stdout.write(json.dumps(report))
