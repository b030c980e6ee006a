"""ASGI entry point: HTTP through Django, websockets through Channels routing."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatdesk import backpressure  # noqa: E402
from chatdesk.routing_ws import websocket_urlpatterns  # noqa: E402

# A client that stops reading is dropped rather than buffered without bound.
backpressure.install(settings.CHATDESK_WS_MAX_SEND_BUFFER_BYTES)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
