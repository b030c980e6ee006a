"""The demo store: a small shop with the widget embedded, as a store would embed it.

The page is static HTML plus demo.js; its two JSON endpoints play the part of
a store's own server: they price the cart from the catalogue, hand ChatDesk
the trusted cart, and record the order when the shopper places it.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from chatdesk.errors import ActionError
from chatdesk.models import Site

from . import demo_store

MAX_BODY = 32 * 1024


def _demo_site() -> Site:
    site = Site.objects.filter(key="demo-store").first()
    if site is None:
        raise Http404("The demo store exists only after `manage.py seed_demo`.")
    return site


@ensure_csrf_cookie
def demo_store_page(request):
    site = Site.objects.filter(key="demo-store").first()
    if site is None and not settings.DEBUG:
        raise Http404("The demo store exists only with DEBUG on or after seed_demo.")
    products = list(site.products.all()) if site else []
    catalogue = [
        {"sku": p.sku, "name": p.name, "description": p.description, "price": f"{p.price:.2f}",
         "image_url": p.image_url, "url": p.url}
        for p in products
    ]
    return render(request, "shopper_widget/demo.html", {
        "site": site, "products": products, "catalogue": catalogue,
        "currency": site.currency if site else "USD",
        "free_shipping_from": demo_store.money(demo_store.FREE_SHIPPING_FROM),
    })


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ActionError("invalid_frame", "the body is too large")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ActionError("invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ActionError("invalid_frame", "the body must be a JSON object")
    return data


def _refused(err: ActionError) -> JsonResponse:
    body = {"detail": err.detail, "code": err.code}
    if err.field:
        body["field"] = err.field
    return JsonResponse(body, status=400)


@require_POST
def demo_cart(request):
    """Price the cart from the catalogue and store it in ChatDesk as the store's (trusted) cart."""
    site = _demo_site()
    try:
        priced = demo_store.price_cart(site, _body(request))
        demo_store.store_cart(site, priced)
    except ActionError as err:
        return _refused(err)
    return JsonResponse(priced.body)


@require_POST
def demo_order(request):
    """Place the order: price it once more from the catalogue and record it in ChatDesk."""
    site = _demo_site()
    try:
        data = _body(request)
        email = data.get("email") or ""
        if not isinstance(email, str):
            raise ActionError("invalid_field", "'email' must be an email address", "email")
        priced = demo_store.price_cart(site, {**data, "checkout_step": "complete"})
        order = demo_store.place_order(site, priced, email)
    except ActionError as err:
        return _refused(err)
    return JsonResponse({"order_id": order.order_id, "total": f"{order.total:.2f}", "currency": order.currency})
