"""Webhook doors: verify the raw body's signature, drop repeats, map the payload, call one action.

A bad or missing signature is 401 and stores nothing; a body that is not a
JSON object, or misses what ChatDesk needs, is 400 and stores nothing. A
delivery id seen before is answered 200 (so the platform stops retrying)
and stores nothing. Topics ChatDesk does not use are answered 200 and
ignored. NUL characters, which PostgreSQL cannot store, are dropped from
the payload's strings.
"""
from __future__ import annotations

import logging
import re
import uuid
from decimal import Decimal

import orjson
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..actions.carts import record_store_cart, validate_cart
from ..actions.orders import cancel_order, parse_timestamp, record_order
from ..errors import ActionError
from ..models import Order, Site, Visitor, WebhookDelivery
from ..parsers import body_limit, too_large_detail
from ..text import without_nul
from . import mapping
from .signing import verify

log = logging.getLogger(__name__)
WC_PING = re.compile(rb"^webhook_id=\d{1,20}$")


def _reply(status: int, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def _hint_visitor(site: Site, hint) -> Visitor | None:
    """A visitor id the storefront passed along; one that names nobody of this site is ignored, not fatal."""
    if not isinstance(hint, str):
        return None
    try:
        vid = uuid.UUID(hint)
    except ValueError:
        return None
    return Visitor.objects.filter(site=site, public_id=vid).first()


def _store_cart(site: Site, platform: str, mapped) -> dict:
    cart_token, body, extra, hint = mapped
    clean = validate_cart(body, site.currency)
    cart, created = record_store_cart(site, cart_token, clean, platform, _hint_visitor(site, hint), extra)
    return {"cart_token": cart.cart_token, "created": created}


def _store_order(site: Site, platform: str, raw: dict) -> dict:
    """`raw` is a mapped order: currency and time already checked, items in cart shape."""
    clean = dict(raw)
    clean["items"] = validate_cart({"currency": raw["currency"], "items": raw["items"]})["items"]
    clean["total"] = Decimal(raw["total"])
    clean["visitor"] = _hint_visitor(site, clean.pop("visitor_id"))
    order, created = record_order(site, clean, platform)
    return {"order_id": order.order_id, "created": created}


def _process(site: Site, platform: str, delivery_id: str, topic: str, handler, payload) -> JsonResponse:
    try:
        with transaction.atomic():
            if delivery_id:
                if WebhookDelivery.objects.filter(site=site, platform=platform, delivery_id=delivery_id).exists():
                    return _reply(200, "duplicate delivery ignored", duplicate=True)
                # Claimed before the work: a concurrent copy blocks on this row and then fails as a duplicate.
                WebhookDelivery.objects.create(site=site, platform=platform, delivery_id=delivery_id, topic=topic)
            result = handler(site, platform, payload)
    except IntegrityError:
        return _reply(200, "duplicate delivery ignored", duplicate=True)
    except ActionError as err:
        return _reply(400 if err.code != "forbidden" else 403, err.detail,
                      errors={err.field or "non_field_errors": [err.detail]})
    return _reply(200, "ok", topic=topic, **(result or {}))


def _body(request) -> bytes | None:
    """The raw body, or None when it is over Django's bound (which would otherwise answer in HTML)."""
    try:
        return request.body
    except RequestDataTooBig:
        return None


def _delivery_id(header: str) -> str:
    """The platform's delivery id as stored: at most 200 characters, no NUL (which PostgreSQL refuses)."""
    return header.replace("\x00", "")[:200]


def _site_or_404(site_key: str) -> Site | None:
    return Site.objects.filter(key=site_key).first()


def _json_object(body: bytes) -> tuple[dict | None, str]:
    """(the payload, "") or (None, what is wrong with the body)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        return None, f"the body is not valid JSON: {err}"
    if not isinstance(payload, dict):
        return None, "the body must be a JSON object"
    if b"\\u0000" in body:
        # PostgreSQL cannot store NUL. A platform's delivery is not refused for one: it would be retried and
        # the webhook then disabled, over a character nobody sees. NUL is dropped instead.
        payload = without_nul(payload)
    return payload, ""


# --- Shopify ---------------------------------------------------------------------------------------

def _shopify_checkout(site, platform, payload):
    return _store_cart(site, platform, mapping.shopify_cart(payload, site.currency))


def _shopify_order(site, platform, payload):
    return _store_order(site, platform, mapping.shopify_order(payload))


def _cancelled(site: Site, order_id, reason: str, at=None) -> dict:
    """A cancellation of an order we recorded; one we never heard of is acknowledged and stores nothing."""
    if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or not str(order_id).strip():
        raise ActionError("invalid_field", "a cancelled order needs its 'id'", "id")
    order = cancel_order(site, str(order_id), reason, at)
    if order is None:
        return {"ignored": True, "order_id": str(order_id)[:100]}
    return {"order_id": order.order_id, "cancelled": True}


def _shopify_cancelled(site, platform, payload):
    at = payload.get("cancelled_at")
    return _cancelled(site, payload.get("id"), Order.CANCELLED,
                      parse_timestamp(at, "cancelled_at") if at else None)


def _shopify_order_updated(site, platform, payload):
    # Shopify sends orders/updated for every edit; only a cancellation or a full refund matters here.
    if payload.get("cancelled_at"):
        return _shopify_cancelled(site, platform, payload)
    if payload.get("financial_status") == "refunded":
        return _cancelled(site, payload.get("id"), Order.REFUNDED)
    return {"ignored": True}


SHOPIFY_TOPICS = {
    "checkouts/create": _shopify_checkout,
    "checkouts/update": _shopify_checkout,
    "orders/create": _shopify_order,
    "orders/cancelled": _shopify_cancelled,
    "orders/updated": _shopify_order_updated,
}


@csrf_exempt
@require_POST
def shopify(request, site_key: str):
    site = _site_or_404(site_key)
    if site is None:
        return _reply(404, "unknown site")
    body = _body(request)
    if body is None:
        return _reply(413, too_large_detail(body_limit()))
    if not verify(site.webhook_secret, body, request.headers.get("X-Shopify-Hmac-Sha256")):
        return _reply(401, "missing or wrong X-Shopify-Hmac-Sha256 signature")
    topic = request.headers.get("X-Shopify-Topic", "")
    payload, problem = _json_object(body)
    if payload is None:
        return _reply(400, problem)
    handler = SHOPIFY_TOPICS.get(topic)
    if handler is None:
        return _reply(200, f"topic '{topic[:64]}' ignored", ignored=True)
    delivery_id = _delivery_id(request.headers.get("X-Shopify-Webhook-Id", ""))
    return _process(site, WebhookDelivery.SHOPIFY, delivery_id, topic, handler, payload)


# --- WooCommerce -----------------------------------------------------------------------------------

def _woocommerce_order(site, platform, payload):
    status = payload.get("status")
    if not isinstance(status, str):
        # An object or list here is not hashable, let alone a status: ignored like an unknown one.
        status = None
    if status in mapping.WC_PAID:
        return _store_order(site, platform, mapping.woocommerce_order(payload))
    if status in mapping.WC_OPEN and mapping.woocommerce_cart_token(payload):
        return _store_cart(site, platform, mapping.woocommerce_cart(payload, site.currency))
    if status in mapping.WC_CANCELLED:
        return _cancelled(site, payload.get("id"), Order.REFUNDED if status == "refunded" else Order.CANCELLED)
    return {"ignored": True, "order_status": status}


WOOCOMMERCE_TOPICS = {"order.created": _woocommerce_order, "order.updated": _woocommerce_order}


@csrf_exempt
@require_POST
def woocommerce(request, site_key: str):
    site = _site_or_404(site_key)
    if site is None:
        return _reply(404, "unknown site")
    body = _body(request)
    if body is None:
        return _reply(413, too_large_detail(body_limit()))
    signature = request.headers.get("X-WC-Webhook-Signature")
    if WC_PING.match(body.strip()):
        # WooCommerce's ping when a webhook is saved: unsigned, and it carries nothing to store.
        return _reply(200, "ping received")
    if not verify(site.webhook_secret, body, signature):
        return _reply(401, "missing or wrong X-WC-Webhook-Signature signature")
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    payload, problem = _json_object(body)
    if payload is None:
        return _reply(400, problem)
    handler = WOOCOMMERCE_TOPICS.get(topic)
    if handler is None:
        return _reply(200, f"topic '{topic[:64]}' ignored", ignored=True)
    delivery_id = _delivery_id(request.headers.get("X-WC-Webhook-Delivery-ID", ""))
    return _process(site, WebhookDelivery.WOOCOMMERCE, delivery_id, topic, handler, payload)
