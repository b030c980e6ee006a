"""Store server API, webhooks, reports and schema routes."""
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from . import schema_extensions  # noqa: F401  (registers how our auth classes appear in the schema)
from .agent_api import AbandonedCartsView
from .storeapi import views as storeapi
from .webhooks import views as webhooks

urlpatterns = [
    path("", include("chatdesk.reports.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Redoc runs its search in a worker made from a blob: URL.
    path("api/docs/", csp_update({"worker-src": ["'self'", "blob:"]})(SpectacularRedocView.as_view(url_name="schema")),
         name="api-docs"),
    path("api/v1/carts/<str:cart_token>/", storeapi.CartView.as_view(), name="api-cart"),
    path("api/v1/orders/", storeapi.OrderView.as_view(), name="api-orders"),
    path("api/v1/orders/<str:order_id>/cancel/", storeapi.OrderCancelView.as_view(), name="api-order-cancel"),
    path("api/v1/agent/abandoned-carts/", AbandonedCartsView.as_view(), name="agent-abandoned-carts"),
    path("hooks/shopify/<slug:site_key>/", webhooks.shopify, name="hook-shopify"),
    path("hooks/woocommerce/<slug:site_key>/", webhooks.woocommerce, name="hook-woocommerce"),
]
