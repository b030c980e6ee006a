"""Reports API routes, included from chatdesk.api_urls."""
from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/reports/summary/", api.SummaryView.as_view(), name="reports-summary"),
    path("api/v1/reports/series/", api.SeriesView.as_view(), name="reports-series"),
]
