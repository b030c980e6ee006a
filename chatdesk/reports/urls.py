"""Reports pages, included at /reports/."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.reports_page, name="reports"),
    path("export/<slug:name>.csv", views.export_csv, name="reports-export"),
    path("floor/", views.floor_page, name="reports-floor"),
    path("floor.json", views.floor_json, name="reports-floor-json"),
    path("token/", views.issue_token, name="reports-token"),
]
