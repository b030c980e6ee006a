"""The demo store: a small shop with the widget embedded, as a store would embed it."""
from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from chatdesk.models import Site


def demo_store(request):
    site = Site.objects.filter(key="demo-store").first()
    if site is None and not settings.DEBUG:
        raise Http404("The demo store exists only with DEBUG on or after seed_demo.")
    products = list(site.products.all()) if site else []
    return render(request, "shopper_widget/demo.html", {"site": site, "products": products})
