"""Request and response shapes of the store API (CONTRACT sections 4 and 5).

The serializers collect every field error at once and describe the API in
the OpenAPI schema; the rules that produce the clean values stay in
`chatdesk.actions.carts.validate_cart` and `chatdesk.actions.orders.validate_order`,
which `validate()` calls last.
"""
from __future__ import annotations

from rest_framework import serializers

from ..errors import ActionError
from ..models import CHECKOUT_STEPS
from .fields import (CurrencyField, MoneyField, OffsetDateTimeField, StrictBooleanField, StrictCharField,
                     StrictIntegerField, VisitorIdField)


class StrictChoiceField(serializers.ChoiceField):
    def __init__(self, choices, **kwargs):
        super().__init__(choices, **kwargs)
        # DRF's message echoes the input, and a lone surrogate in it cannot be rendered as UTF-8 (a 500);
        # naming the choices is also the more useful answer.
        self.error_messages["invalid_choice"] = f"Must be one of {', '.join(self.choice_strings_to_values)}."

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice")
        return super().to_internal_value(data)


def action_error_to_validation(err: ActionError) -> serializers.ValidationError:
    return serializers.ValidationError({err.field or "non_field_errors": [err.detail]})


class CartItemSerializer(serializers.Serializer):
    sku = StrictCharField(min_length=1, max_length=100)
    name = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    quantity = StrictIntegerField(min_value=1, max_value=10000, help_text="A positive whole number.")
    unit_price = MoneyField()
    # Blank is allowed, as validate_cart allows it: a product without an image or page is still a product.
    image_url = StrictCharField(max_length=1000, required=False, allow_blank=True)
    url = StrictCharField(max_length=1000, required=False, allow_blank=True)


class CartBodySerializer(serializers.Serializer):
    """Section 5 cart plus `visitor_id` and the contact fields a store knows (all optional)."""

    # Tokens are compared as sent: DRF's default trimming made " abc" in the body differ from " abc" in the URL.
    cart_token = StrictCharField(required=False, max_length=200, trim_whitespace=False,
                                 help_text="If given, must equal the token in the URL.")
    visitor_id = VisitorIdField(required=False, allow_null=True,
                                help_text="The widget's visitor id (ChatDesk.visitorId()): links this cart to the shopper.")
    currency = CurrencyField(required=False, help_text="Defaults to the site's currency.")
    items = CartItemSerializer(many=True, required=False, max_length=200)
    subtotal = MoneyField(required=False, allow_null=True, help_text="Defaults to the sum of the items.")
    shipping = MoneyField(required=False, allow_null=True)
    tax = MoneyField(required=False, allow_null=True)
    discount = MoneyField(required=False, allow_null=True)
    total = MoneyField(required=False, allow_null=True, help_text="Defaults to subtotal + shipping + tax - discount.")
    checkout_step = StrictChoiceField(choices=CHECKOUT_STEPS, required=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = StrictCharField(required=False, allow_blank=True, max_length=40)
    consent_email = StrictBooleanField(required=False, help_text="The shopper agreed to marketing email.")
    consent_sms = StrictBooleanField(required=False, help_text="The shopper agreed to marketing SMS.")
    recovery_url = StrictCharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="A link that restores this cart (used in follow-ups).")

    def validate(self, attrs):
        from ..actions.carts import validate_cart

        token = self.context.get("cart_token")
        if "cart_token" in attrs and attrs["cart_token"] != token:
            raise serializers.ValidationError({"cart_token": ["Must equal the cart token in the URL."]})
        try:
            clean = validate_cart(self.initial_data, self.context["site"].currency)
        except ActionError as err:
            raise action_error_to_validation(err) from None
        extra = {}
        for key in ("email", "phone", "consent_email", "consent_sms", "recovery_url"):
            if key in attrs:
                extra[key] = attrs[key]
        return {"clean": clean, "visitor_id": attrs.get("visitor_id"), "extra": extra}


class OrderBodySerializer(serializers.Serializer):
    order_id = StrictCharField(min_length=1, max_length=100, help_text="The store's order id; unique per site.")
    cart_token = StrictCharField(required=False, max_length=200, min_length=1, trim_whitespace=False)
    visitor_id = VisitorIdField(required=False, allow_null=True)
    currency = CurrencyField()
    total = MoneyField()
    items = CartItemSerializer(many=True, max_length=500)
    created_at = OffsetDateTimeField()
    discount_codes = serializers.ListField(child=StrictCharField(min_length=1, max_length=64), required=False,
                                           max_length=20)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)

    def validate(self, attrs):
        from ..actions.orders import validate_order

        if not attrs.get("cart_token") and not attrs.get("visitor_id"):
            # Either field fixes it, so both are named (a client that sent a null visitor_id looks for that one).
            message = ["Give cart_token or visitor_id so the order can be joined."]
            raise serializers.ValidationError({"cart_token": message, "visitor_id": message})
        try:
            return validate_order(self.context["site"], self.initial_data)
        except ActionError as err:
            if err.code == "forbidden":
                raise
            raise action_error_to_validation(err) from None


class CartItemOut(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()


class CartOut(serializers.Serializer):
    cart_token = serializers.CharField()
    currency = serializers.CharField()
    items = CartItemOut(many=True)
    subtotal = serializers.CharField()
    shipping = serializers.CharField()
    tax = serializers.CharField()
    discount = serializers.CharField()
    total = serializers.CharField()
    checkout_step = serializers.CharField()
    source = serializers.CharField()
    visitor_id = serializers.UUIDField(allow_null=True)
    ordered = serializers.BooleanField()


class OrderOut(serializers.Serializer):
    order_id = serializers.CharField()
    created = serializers.BooleanField(help_text="False when this order was already recorded (nothing doubled).")
    cart_token = serializers.CharField(allow_null=True)
    visitor_id = serializers.UUIDField(allow_null=True)
    currency = serializers.CharField()
    total = serializers.CharField()
    lines = CartItemOut(many=True)
    attributed_conversation_id = serializers.IntegerField(allow_null=True)


class OrderCancelSerializer(serializers.Serializer):
    reason = StrictChoiceField(choices=["cancelled", "refunded"], default="cancelled",
                               help_text="Why the order no longer stands.")
    cancelled_at = serializers.DateTimeField(required=False, help_text="When the store cancelled it (default: now).")


class OrderCancelOut(serializers.Serializer):
    order_id = serializers.CharField()
    cancelled_at = serializers.DateTimeField()
    reason = serializers.CharField()


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class RateLimitedOut(serializers.Serializer):
    code = serializers.CharField(help_text='Always "rate_limited".')
    detail = serializers.CharField()
