"""Strict DRF fields: JSON types are not coerced (no "2" for 2, no 19.99 for "19.99", no 1 for true)."""
from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..actions.carts import MONEY
from ..currencies import is_currency


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be a JSON integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field({"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$", "example": "19.99",
                      "description": "A non-negative decimal amount written as a string."})
class MoneyField(serializers.Field):
    """Money is a decimal string such as "19.99"; JSON numbers are refused because floats lose cents."""

    default_error_messages = {
        "invalid": 'Must be a decimal string such as "19.99" (a JSON number is not accepted).',
        "negative": "Must not be negative.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not MONEY.match(data):
            self.fail("invalid")
        if data.startswith("-"):
            self.fail("negative")
        return data

    def to_representation(self, value):
        return f"{value:.2f}"


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{3}$", "example": "USD",
                      "description": "An ISO 4217 currency code."})
class CurrencyField(serializers.Field):
    default_error_messages = {"invalid": "Must be an ISO 4217 currency code such as USD."}

    def to_internal_value(self, data):
        if not is_currency(data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.UUID)
class VisitorIdField(serializers.Field):
    """The widget's visitor id (`ChatDesk.visitorId()` in the page), a UUID string."""

    default_error_messages = {"invalid": "Must be the widget's visitor id (a UUID string)."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return str(uuid.UUID(data))
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return str(value)


@extend_schema_field({"type": "string", "format": "date-time", "example": "2025-05-01T12:00:00Z",
                      "description": "ISO 8601 with a UTC offset (Z or +hh:mm)."})
class OffsetDateTimeField(serializers.Field):
    default_error_messages = {"invalid": "Must be an ISO 8601 time with a UTC offset, e.g. 2025-05-01T12:00:00Z."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value.isoformat() if hasattr(value, "isoformat") else value
