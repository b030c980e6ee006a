"""Demo store pages and the demo store's own server endpoints."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.demo_store_page, name="demo-store"),
    path("cart/", views.demo_cart, name="demo-cart"),
    path("order/", views.demo_order, name="demo-order"),
]
