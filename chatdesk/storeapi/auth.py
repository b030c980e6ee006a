"""Bearer site API keys: the key is looked up by its hash and compared in constant time."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from ..models import Site
from ..models.sites import hash_api_key


class StoreClient:
    """The caller of the store API: a site's server, not a person."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, site: Site):
        self.site = site

    def __str__(self):
        return f"store {self.site.key}"


class SiteKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <site API key>`; a missing header is 401, a wrong key 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword or not 8 <= len(parts[1]) <= 200:
            raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <site API key>'")
        raw = parts[1]
        site = Site.objects.filter(api_key_hash=hash_api_key(raw)).first()
        if site is None or not site.check_api_key(raw):
            raise exceptions.AuthenticationFailed("unknown API key")
        return StoreClient(site), site

    def authenticate_header(self, request):
        # Without it DRF would answer 403 to a missing key; the contract says 401.
        return 'Bearer realm="chatdesk"'


class IsStore(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, StoreClient)


class SiteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "chatdesk.storeapi.auth.SiteKeyAuthentication"
    name = "siteApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "The site's API key (admin > Sites)."}
