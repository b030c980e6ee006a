"""Demo store pages."""
from django.urls import path

from . import views

urlpatterns = [path("", views.demo_store, name="demo-store")]
