"""Websocket URL routes (CONTRACT section 3)."""
from django.urls import path

from agents.consumers import ConsoleConsumer
from chatdesk.reports.consumers import FloorConsumer
from shopper_widget.consumers import WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/<str:site_key>/", WidgetConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/floor/", FloorConsumer.as_asgi()),  # supervisors' live floor (docs/reports.md)
]
