"""App config for the shopper widget."""
from django.apps import AppConfig


class ShopperWidgetConfig(AppConfig):
    name = "shopper_widget"
    default_auto_field = "django.db.models.BigAutoField"
