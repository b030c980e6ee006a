"""Websocket URL routes (CONTRACT section 3)."""
from django.urls import path

from agents.consumers import ConsoleConsumer
from shopper_widget.consumers import WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/<str:site_key>/", WidgetConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
