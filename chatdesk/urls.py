"""HTTP routes (CONTRACT section 2); each area includes its own urls module."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chatdesk.reports.views import landing

urlpatterns = [
    path("", landing, name="landing"),  # agents to /console/, supervisors to /reports/
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("console/", include("agents.urls")),
    path("reports/", include("chatdesk.reports.urls")),
    path("demo/", include("shopper_widget.urls")),
    path("", include("chatdesk.api_urls")),
    path("", include("chatdesk.followup_urls")),
]
