"""Who may read reports: supervisors by session, or scripts with a supervisor's signed staff token.

A staff token is `django.core.signing` output naming the user and carrying a
MAC of their password hash, so changing the password (or the secret key)
revokes every token issued before; tokens also expire after
REPORTS_TOKEN_MAX_AGE_DAYS (default 90). Nothing is stored server-side.
Send it as `Authorization: Bearer <token>`; `manage.py reports_token USER`
or the "API token" button on /reports/ issues one.
"""
from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework import authentication, exceptions, permissions

from ..permissions import is_supervisor

TOKEN_SALT = "chatdesk.reports.token"


def max_age_seconds() -> int:
    return int(getattr(settings, "REPORTS_TOKEN_MAX_AGE_DAYS", 90)) * 86400


def _password_mac(user) -> str:
    return salted_hmac(TOKEN_SALT, user.password or "", algorithm="sha256").hexdigest()[:32]


def make_staff_token(user) -> str:
    """A token for a supervisor; refuses anyone else so that a token never outranks its holder."""
    if not is_supervisor(user):
        raise PermissionDenied("only supervisors get a reports token")
    return signing.dumps({"u": user.pk, "p": _password_mac(user)}, salt=TOKEN_SALT, compress=False)


def user_from_staff_token(token: str):
    """The active supervisor a token names, or None when it is forged, expired, revoked or theirs no more."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=max_age_seconds())
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    user = get_user_model().objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or not constant_time_compare(str(data.get("p", "")), _password_mac(user)):
        return None
    return user if is_supervisor(user) else None


class StaffTokenAuthentication(authentication.BaseAuthentication):
    """DRF door for `Authorization: Bearer <staff token>`; no header means "try the session"."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <staff token>'")
        try:
            token = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("the token must be ASCII") from None
        user = user_from_staff_token(token)
        if user is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked staff token")
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="chatdesk-reports"'


class IsSupervisor(permissions.BasePermission):
    message = "reports are for supervisors"

    def has_permission(self, request, view):
        return is_supervisor(request.user)


def supervisor_required(view):
    """Page decorator: anonymous users go to the login page, signed-in non-supervisors get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_supervisor(request.user):
            raise PermissionDenied("Reports are for supervisors.")
        return view(request, *args, **kwargs)

    return wrapped
