"""`manage.py reports_token USERNAME`: print a staff token for the reports API (see chatdesk.reports.auth)."""
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from chatdesk.reports.auth import make_staff_token, max_age_seconds


class Command(BaseCommand):
    help = "Print a signed staff token for GET /api/v1/reports/... (send it as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user named '{opts['username']}'")
        try:
            token = make_staff_token(user)
        except PermissionDenied as err:
            raise CommandError(f"{opts['username']} is not a supervisor: {err}") from None
        self.stdout.write(token)
        self.stderr.write(f"Valid {max_age_seconds() // 86400} days; changing {user.username}'s password revokes it.")
