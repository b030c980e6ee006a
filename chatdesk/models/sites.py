"""A site is one store using ChatDesk: its keys, origins and every per-store setting."""
import hashlib
import secrets
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import models

from ..business_hours import validate_business_hours


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Site(models.Model):
    ROUTING_MANUAL = "manual"
    ROUTING_AUTO = "auto"
    ROUTING_CHOICES = [(ROUTING_MANUAL, "Agents claim"), (ROUTING_AUTO, "Automatic assignment")]

    key = models.SlugField(max_length=64, unique=True, help_text="Public site key used by the widget tag.")
    name = models.CharField(max_length=200)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://shop.example.com or http://localhost:* (any port).",
    )
    api_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    api_key_prefix = models.CharField(max_length=12, blank=True, editable=False)
    webhook_secret = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")

    # METRICS.md settings
    attribution_window_hours = models.PositiveIntegerField(default=72)
    abandon_after_minutes = models.PositiveIntegerField(default=30)
    holdout_share = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.100"))
    offer_lifetime_minutes = models.PositiveIntegerField(default=60)
    recovery_url = models.CharField(
        max_length=500, blank=True,
        help_text="Where follow-up recovery links land; {token} is replaced with the restore token "
                  "(see docs/offers-and-followups.md). Empty: the cart's own recovery URL, else the demo store.",
    )

    # Routing and service levels
    routing_mode = models.CharField(max_length=10, choices=ROUTING_CHOICES, default=ROUTING_MANUAL)
    presence_grace_seconds = models.PositiveIntegerField(default=60)
    missed_after_minutes = models.PositiveIntegerField(default=5)
    target_wait_seconds = models.PositiveIntegerField(default=60)
    weight_cart_value = models.FloatField(default=1.0, help_text="Priority points per unit of cart value.")
    weight_checkout_step = models.FloatField(default=50.0, help_text="Priority points per checkout step reached.")
    weight_wait = models.FloatField(default=2.0, help_text="Priority points per second waited (ageing).")
    weight_returning = models.FloatField(default=40.0, help_text="Priority points for a returning customer.")
    business_hours = models.JSONField(
        default=dict, blank=True, validators=[validate_business_hours],
        help_text='Per weekday opening hours in the site timezone, e.g. {"mon": ["09:00", "17:00"], '
                  '"tue": [["09:00", "12:00"], ["13:00", "17:00"]], "holidays": ["2026-12-25"]}. '
                  'Unlisted days are closed. Empty: always open.',
    )

    # Widget appearance
    accent_color = models.CharField(max_length=7, default="#4f46e5")
    greeting = models.CharField(max_length=200, default="Hi! Questions about your order? We're here.")
    retention_days = models.PositiveIntegerField(default=365)

    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} ({self.key})"

    def set_api_key(self, raw: str | None = None) -> str:
        """Store only the hash of a new API key and return the raw key (shown once)."""
        raw = raw or "cdk_" + secrets.token_urlsafe(32)
        self.api_key_hash = hash_api_key(raw)
        self.api_key_prefix = raw[:12]
        return raw

    def check_api_key(self, raw: str) -> bool:
        return bool(self.api_key_hash) and secrets.compare_digest(self.api_key_hash, hash_api_key(raw))

    @property
    def origin_list(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.splitlines() if o.strip()]


def site_origin_allowed(site: Site, origin: str | None) -> bool:
    """True when `origin` matches one of the site's origins; `*` as port means any port."""
    if not origin:
        return False
    try:
        got = urlsplit(origin.strip())
        got_port = got.port or (443 if got.scheme == "https" else 80)
    except ValueError:
        return False
    for allowed in site.origin_list:
        if allowed == "*":
            return True
        wildcard_port = allowed.endswith(":*")
        spec = urlsplit(allowed[:-2] if wildcard_port else allowed)
        if spec.scheme != got.scheme or (spec.hostname or "") != (got.hostname or ""):
            continue
        if wildcard_port:
            return True
        try:
            want_port = spec.port or (443 if spec.scheme == "https" else 80)
        except ValueError:
            continue
        if want_port == got_port:
            return True
    return False


class Product(models.Model):
    """The site's catalogue, used by the demo store and the offer composer."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    image_url = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "sku"], name="product_unique_sku")]
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.sku})"
