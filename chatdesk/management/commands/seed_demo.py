"""`manage.py seed_demo`: the demo site, its agents and supervisor, a catalogue and 30 days of history (idempotent)."""
import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import AgentProfile, CannedReply
from chatdesk.demo_history import rebuild_history
from chatdesk.models import FollowUpStep, InterventionRule, Product, Site
from chatdesk.permissions import grant_agent_admin, sync_groups

CATALOGUE = [
    ("TEE-1", "Organic cotton tee", "Soft, heavyweight, cut for everyday.", "19.99"),
    ("HOODIE-1", "Fleece hoodie", "Brushed inside, recycled polyester outside.", "54.00"),
    ("CAP-1", "Canvas cap", "Adjustable strap, one size.", "17.50"),
    ("MUG-1", "Stoneware mug", "350 ml, dishwasher safe.", "14.00"),
    ("TOTE-1", "Market tote", "Heavy canvas with inside pocket.", "24.00"),
    ("SOCKS-3", "Merino socks, 3 pairs", "Warm, breathable, no itch.", "29.00"),
]

# Email after an hour, a text after three, a call task after four hours for carts of 100.00 or more.
FOLLOWUP_SCHEDULE = [("email", 60, "0.00"), ("sms", 180, "0.00"), ("call", 240, "100.00")]

CANNED = [
    ("hello", "Greeting", "Hi {name}! I'm here if you have any questions about your order."),
    ("shipping", "Shipping costs", "Shipping is free on orders over $75. Your cart is at {cart_total} right now."),
    ("returns", "Returns", "You can return anything within 30 days, free of charge, no questions asked."),
    ("secure", "Payment safety", "Payments go through our PCI-compliant provider; we never see your card number."),
]

# Example proactive rules (docs/integration.md section 5): two on the server, one in the widget. Seeded
# switched off, so a demo or a test run never meets a prompt it did not ask for; tick "enabled" in admin.
INTERVENTIONS = [
    ("shipping-shock", "Shipping cost just appeared", "Surprised by the shipping cost? Ask us: we can often help.",
     {"checkout_step": ["shipping", "payment"], "shipping_newly_shown": 120}),
    ("payment-idle", "Stuck on payment", "Stuck on payment? We're here if anything is unclear.",
     {"checkout_step": ["payment"], "idle_seconds": 45}),
    ("exit-save", "Leaving with a cart", "Before you go: any question about your order? Chat with us.",
     {"exit_intent": True, "min_cart_value": "30.00"}),
]


class Command(BaseCommand):
    help = ("Create or update the demo site, agents alice and bob (plus agent1..N), supervisor sam, a catalogue, "
            "and the last 30 days of shoppers, conversations and orders (rebuilt on every run; --no-history skips it).")

    def add_arguments(self, parser):
        parser.add_argument("--password", default="chatdesk-demo")
        parser.add_argument("--api-key", default=None)
        parser.add_argument("--webhook-secret", default=None)
        parser.add_argument("--agents", type=int, default=0)
        parser.add_argument("--capacity", type=int, default=5)
        parser.add_argument("--no-history", action="store_true",
                            help="leave the demo history alone (neither build nor rebuild it)")

    @transaction.atomic
    def handle(self, *args, **opts):
        site, created = Site.objects.get_or_create(
            key="demo-store",
            defaults={"name": "Demo Store", "allowed_origins": "http://localhost:*\nhttp://127.0.0.1:*", "currency": "USD"},
        )
        site.allowed_origins = "http://localhost:*\nhttp://127.0.0.1:*"
        printed = []
        if opts["api_key"]:
            site.set_api_key(opts["api_key"])
        elif created or not site.api_key_hash:
            printed.append(f"API key (shown once): {site.set_api_key()}")
        if opts["webhook_secret"]:
            site.webhook_secret = opts["webhook_secret"]
        elif created or not site.webhook_secret:
            site.webhook_secret = secrets.token_urlsafe(32)
            printed.append(f"Webhook secret (shown once): {site.webhook_secret}")
        site.save()

        for sku, name, description, price in CATALOGUE:
            Product.objects.update_or_create(
                site=site, sku=sku,
                defaults={"name": name, "description": description, "price": Decimal(price),
                          "image_url": f"/static/shopper_widget/demo/{sku.lower()}.svg", "url": f"/demo/#{sku}"},
            )
        if not site.followup_steps.exists():
            # The demo's follow-up schedule (docs/offers-and-followups.md); left alone once edited in the admin.
            for channel, delay, min_value in FOLLOWUP_SCHEDULE:
                FollowUpStep.objects.create(site=site, channel=channel, delay_minutes=delay,
                                            min_cart_value=Decimal(min_value))
        for shortcut, title, text in CANNED:
            CannedReply.objects.update_or_create(site=site, shortcut=shortcut, defaults={"title": title, "text": text})
        for order, (trigger, name, text, conditions) in enumerate(INTERVENTIONS):
            # get_or_create: a supervisor's edits to a demo rule survive a re-seed.
            InterventionRule.objects.get_or_create(
                site=site, trigger=trigger, defaults={"name": name, "text": text, "conditions": conditions, "order": order, "enabled": False})

        User = get_user_model()
        supervisors, agents_group = sync_groups()
        names = [("alice", "Alice"), ("bob", "Bob")] + [(f"agent{i}", f"Agent {i}") for i in range(1, opts["agents"] + 1)]
        demo_agents = []
        for username, display in names:
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(opts["password"])
            user.save()
            profile, _ = AgentProfile.objects.get_or_create(user=user, defaults={"display_name": display})
            profile.display_name = display
            profile.capacity = opts["capacity"]
            profile.save()
            profile.sites.add(site)
            grant_agent_admin(user, agents_group)  # the admin, for their sites' canned replies only
            demo_agents.append(user)

        sam, _ = User.objects.get_or_create(username="sam")
        sam.set_password(opts["password"])
        sam.is_staff = True
        sam.first_name = "Sam"
        sam.save()
        sam.groups.add(supervisors)

        history = ""
        if not opts["no_history"]:
            # The last 30 days, rebuilt to end now: the reports and the console's follow-ups have something to show.
            counts = rebuild_history(site, demo_agents[:2])
            history = (f" History of the last 30 days: {counts['conversations']} conversations, "
                       f"{counts['carts']} carts, {counts['orders']} orders.")
        self.stdout.write(self.style.SUCCESS(
            f"Demo ready: site 'demo-store', agents {', '.join(n for n, _ in names)}, supervisor sam.{history}"
        ))
        for line in printed:
            self.stdout.write(line)
