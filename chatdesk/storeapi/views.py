"""Store API doors: authenticate the site, validate the body, call one action, reply (CONTRACT section 4)."""
from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from ..actions.carts import record_store_cart
from ..actions.orders import cancel_order, find_visitor, record_order
from ..errors import ActionError
from ..serialize import money
from .auth import IsStore, SiteKeyAuthentication
from .throttle import SiteKeyRateThrottle, configured_limit
from .serializers import (CartBodySerializer, CartOut, ErrorOut, OrderBodySerializer, OrderCancelOut,
                          OrderCancelSerializer, OrderOut, RateLimitedOut)

ERROR_STATUS = {"forbidden": 403, "not_found": 404}


def flatten_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"items[1].quantity": ["..."]}, the names a developer sees in the body."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):
                # ListField keys its children's errors by index: name them as items[0] is named.
                name = f"{prefix}[{key}]"
            else:
                name = prefix if key in ("non_field_errors",) and prefix else (f"{prefix}.{key}" if prefix else str(key))
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(errors, list):
        if all(not isinstance(e, (dict, list)) for e in errors):
            out[prefix or "non_field_errors"] = [str(e) for e in errors]
        else:
            for i, value in enumerate(errors):
                for k, v in flatten_errors(value, f"{prefix}[{i}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(errors)]
    return {k: v for k, v in out.items() if v}


def rate_limited(exc: exceptions.Throttled) -> Response:
    """429 with Retry-After, in the API's error shape plus a stable `code`."""
    wait = max(1, math.ceil(exc.wait or 1))
    limit = configured_limit()
    terms = f" ({limit.per_minute:g} per minute, bursts of {limit.burst})" if limit else ""
    body = {"code": "rate_limited", "detail": f"too many requests for this API key{terms}; retry in {wait} s"}
    return Response(body, status=429, headers={"Retry-After": str(wait)})


def store_exception_handler(exc, context):
    """Every refusal is `{"detail": ...}`; a 400 also names each bad field in `errors`."""
    if isinstance(exc, exceptions.Throttled):
        return rate_limited(exc)
    if isinstance(exc, ActionError):
        code = ERROR_STATUS.get(exc.code, 400)
        body = {"detail": exc.detail}
        if code == 400:
            body["errors"] = {exc.field or "non_field_errors": [exc.detail]}
        return Response(body, status=code)
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        first = next(iter(errors.items()), ("request", ["invalid"]))
        detail = f"invalid {first[0]}: {first[1][0]}" if len(errors) == 1 else f"{len(errors)} fields are invalid"
        return Response({"detail": detail, "errors": errors}, status=400)
    response = exception_handler(exc, context)
    if response is not None and not (isinstance(response.data, dict) and "detail" in response.data):
        response.data = {"detail": str(response.data)}
    return response


class StoreAPIView(APIView):
    authentication_classes = [SiteKeyAuthentication]
    permission_classes = [IsStore]
    # After authentication and permission (DRF's order): counted per key; 401s count for nobody.
    throttle_classes = [SiteKeyRateThrottle]

    def get_exception_handler(self):
        return store_exception_handler

    @property
    def site(self):
        return self.request.user.site


def cart_out(cart) -> dict:
    return {
        "cart_token": cart.cart_token, "currency": cart.currency, "items": cart.items,
        "subtotal": money(cart.subtotal), "shipping": money(cart.shipping), "tax": money(cart.tax),
        "discount": money(cart.discount), "total": money(cart.total), "checkout_step": cart.checkout_step,
        "source": cart.source, "visitor_id": str(cart.visitor.public_id) if cart.visitor_id else None,
        "ordered": cart.ordered_at is not None,
    }


def order_out(order, created: bool) -> dict:
    return {
        "order_id": order.order_id, "created": created,
        "cart_token": order.cart.cart_token if order.cart_id else (order.cart_token or None),
        "visitor_id": str(order.visitor.public_id) if order.visitor_id else None,
        "currency": order.currency, "total": money(order.total),
        "lines": [{"sku": l.sku, "name": l.name, "quantity": l.quantity, "unit_price": money(l.unit_price)}
                  for l in order.lines.order_by("id")],
        "attributed_conversation_id": order.conversation_id,
    }


ERRORS = {
    400: OpenApiResponse(ErrorOut, description="A field is invalid; `errors` names each one. Nothing was stored."),
    401: OpenApiResponse(ErrorOut, description="Missing or unknown API key."),
    403: OpenApiResponse(ErrorOut, description="The visitor belongs to another site."),
    429: OpenApiResponse(RateLimitedOut, description="Over the API key's rate limit (`Retry-After` says when to "
                                                     "try again). Nothing was stored."),
}


class CartView(StoreAPIView):
    @extend_schema(
        operation_id="put_cart", tags=["Store API"],
        summary="Send the store's cart (trusted: it wins over the widget's)",
        request=CartBodySerializer,
        responses={200: CartOut, 201: CartOut, **ERRORS},
        examples=[OpenApiExample("cart", request_only=True, value={
            "visitor_id": "9b2f6a5e-3c1d-4e0b-8f7a-2d4c6e8a0b1c", "currency": "USD",
            "items": [{"sku": "TEE-1", "name": "T-shirt", "quantity": 2, "unit_price": "19.99"}],
            "subtotal": "39.98", "shipping": "7.50", "tax": "3.20", "discount": "0.00", "total": "50.68",
            "checkout_step": "shipping", "email": "ann@example.com", "consent_email": True})],
    )
    def put(self, request, cart_token: str):
        if not 1 <= len(cart_token) <= 200:
            raise ActionError("invalid_field", "the cart token must be 1-200 characters", "cart_token")
        if "\x00" in cart_token:
            # PostgreSQL cannot store NUL; the body's strings are refused for it by DRF, the URL's here.
            raise ActionError("invalid_field", "the cart token must not contain NUL (%00) characters", "cart_token")
        body = CartBodySerializer(data=request.data, context={"site": self.site, "cart_token": cart_token})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        visitor = find_visitor(self.site, data["visitor_id"]) if data["visitor_id"] else None
        cart, created = record_store_cart(self.site, cart_token, data["clean"], "api", visitor, data["extra"])
        return Response(cart_out(cart), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OrderView(StoreAPIView):
    @extend_schema(
        operation_id="post_order", tags=["Store API"],
        summary="Record a completed order (idempotent on order_id)",
        request=OrderBodySerializer,
        responses={201: OrderOut, 200: OpenApiResponse(OrderOut, description="Already recorded (or updated)."),
                   **ERRORS},
        examples=[OpenApiExample("order", request_only=True, value={
            "order_id": "1001", "cart_token": "abc", "currency": "USD", "total": "50.68",
            "items": [{"sku": "TEE-1", "name": "T-shirt", "quantity": 2, "unit_price": "19.99"}],
            "created_at": "2025-05-01T12:00:00Z"})],
    )
    def post(self, request):
        body = OrderBodySerializer(data=request.data, context={"site": self.site})
        body.is_valid(raise_exception=True)
        order, created = record_order(self.site, body.validated_data, "api")
        return Response(order_out(order, created), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OrderCancelView(StoreAPIView):
    @extend_schema(
        operation_id="cancel_order", tags=["Store API"],
        summary="Cancel or refund a recorded order: it stops counting in conversion and revenue",
        request=OrderCancelSerializer,
        responses={200: OrderCancelOut,
                   404: OpenApiResponse(ErrorOut, description="No order with this id was recorded for the site."),
                   **ERRORS},
    )
    def post(self, request, order_id: str):
        # The id as POST /api/v1/orders/ stored it: stripped, 1-100 characters; PostgreSQL cannot compare NUL.
        order_id = order_id.strip()
        if not 1 <= len(order_id) <= 100:
            raise ActionError("invalid_field", "the order id must be 1-100 characters", "order_id")
        if "\x00" in order_id:
            raise ActionError("invalid_field", "the order id must not contain NUL (%00) characters", "order_id")
        body = OrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = cancel_order(self.site, order_id, body.validated_data["reason"], body.validated_data.get("cancelled_at"))
        if order is None:
            raise ActionError("not_found", f"no order '{order_id[:100]}' was recorded for this site", "order_id")
        return Response({"order_id": order.order_id, "cancelled_at": order.cancelled_at, "reason": order.cancel_reason})
