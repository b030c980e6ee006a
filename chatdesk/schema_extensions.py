"""OpenAPI descriptions of our own authentication classes (drf-spectacular finds them by import)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StaffTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <staff token>` for the reports API (chatdesk.reports.auth)."""

    target_class = "chatdesk.reports.auth.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A supervisor's signed staff token (`manage.py reports_token USER`).",
        }
