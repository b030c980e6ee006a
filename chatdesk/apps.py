"""App config for the core domain."""
from django.apps import AppConfig


class ChatdeskConfig(AppConfig):
    name = "chatdesk"
    default_auto_field = "django.db.models.BigAutoField"
