"""App config for the core domain."""
from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_groups(sender, **kwargs):
    # Permissions of both apps exist once each app's own post_migrate has run;
    # running on both keeps the groups exact whichever order they come in.
    if sender.label not in ("chatdesk", "agents"):
        return
    from .permissions import sync_groups

    sync_groups()


class ChatdeskConfig(AppConfig):
    name = "chatdesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_sync_groups, dispatch_uid="chatdesk.sync_groups")
        # A malformed CHATDESK_API_RATE stops startup, instead of failing every store request later.
        from .storeapi.throttle import configured_limit

        configured_limit()
