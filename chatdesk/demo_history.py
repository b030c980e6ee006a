"""The demo store's last 30 days: shoppers, carts, conversations, offers, orders, prompts and follow-ups.

`seed_demo` calls `rebuild_history` so that a first look at /reports/, the live floor and the console's
Follow-ups shows what ChatDesk does instead of empty charts. Everything is planned in memory from one
seeded random generator (the same seed and `now` give the same rows), written with bulk_create, and
the orders are then attributed by `chatdesk.attribution.attribute_order`, the function every live
order goes through, so attribution and offer revenue are the product's own. The rows are what the
product's actions would have left behind (see chatdesk/actions: carts, conversations, offers,
abandonment, follow-ups, calls, interventions), so its periodic tasks find nothing to redo.

Every cart token starts with CART_PREFIX and every order id with ORDER_PREFIX, and every shopper of the
history has a cart: that is how `clear_history` finds exactly these rows and nothing a person did live.
"""
from __future__ import annotations

import math
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents.presence import RETURNED_TEXT
from shopper_widget import demo_store

from .attribution import attribute_order
from .models import (
    CHECKOUT_STEP_ORDER, CHECKOUT_STEPS, Assignment, CallTask, Cart, CartEvent, Conversation, FollowUp, FollowUpStep,
    InterventionAssignment, InterventionEvent, InterventionRule, LeftMessage, Message, Note, Offer, Order, OrderLine,
    PageView, Product, Site, Visitor,
)
from .sms import normalise_phone

CART_PREFIX = "demo-history-"
ORDER_PREFIX = "DH-"
DAYS = 30
SEED = 2024

# Sessions started per weekday (scaled down at weekends): shoppers who open a chat themselves, and
# shoppers who check out (or leave) without one unless a proactive prompt brings them in.
CHATTY_PER_DAY = 8
QUIET_PER_DAY = 20
WEEKDAY_SCALE = [1.0, 1.05, 1.0, 0.95, 1.1, 0.7, 0.6]
# Shoppers by hour of the day (UTC, the demo site's time zone): business hours heavy.
HOUR_WEIGHTS = [0.6, 0.4, 0.3, 0.2, 0.2, 0.4, 0.9, 1.8, 3.5, 5.5, 6.5, 7, 6.5, 6.5, 7, 7, 6.5, 6, 5, 4.5, 4, 3.2,
                2.2, 1.2]
STAFFED_HOURS = range(8, 21)  # outside these, waits are long and chats are often missed
LATEST_START = timedelta(minutes=150)  # sessions end well before `now`: nothing is left half-done
# A shopper who comes back to order walks the checkout again (up to ~15 minutes): orders decided later
# than this before `now` are left out, so that no row is dated in the future.
LAST_DECISION = timedelta(minutes=20)

# Shares of conversion per kind of session. Whatever decides whether a shopper orders is drawn as a
# quota per kind of shopper and arm (an exact share of each group, see Quota): with about fifty shoppers
# in the holdout, plain coin flips would swing the demo's lift from one day's run to the next.
CONVERT = {"chatty": 0.33, "proactive": 0.6, "quiet": 0.16, "missed": 0.12}
PROMPT_ACCEPTED, PROMPT_DISMISSED = 0.3, 0.4
LATE_ORDER = 0.08  # converted, but only after coming back hours later
RETURNS = 0.05  # an abandoned shopper comes back and asks in the chat
CLICKS = {FollowUpStep.EMAIL: 0.22, FollowUpStep.SMS: 0.18}  # a follow-up's link clicked
CLICK_BUYS, CALL_BUYS, RETURN_BUYS = 0.35, 0.35, 0.6

# Close reasons (METRICS.md codes): Baymard's ranks for the checkout reasons, plus the others.
REASON_WEIGHTS = {
    "extra_costs": 48, "account_required": 26, "payment_trust": 25, "delivery_slow": 23,
    "checkout_complicated": 22, "total_unclear": 21, "returns_policy": 18, "site_error": 17,
    "payment_methods": 13, "card_declined": 9, "product_question": 42, "just_browsing": 12, "other": 10,
}
# Where in the checkout each concern comes up.
REASON_STEPS = {
    "extra_costs": ["shipping", "payment"], "account_required": ["contact"], "payment_trust": ["payment"],
    "delivery_slow": ["shipping"], "checkout_complicated": ["contact", "shipping"], "total_unclear": ["cart", "shipping"],
    "returns_policy": ["cart", "payment"], "site_error": ["payment"], "payment_methods": ["payment"],
    "card_declined": ["payment"], "product_question": ["cart", "cart", "contact"], "just_browsing": ["cart"],
    "other": ["cart", "shipping", "review"],
}
# What a prompt that was accepted turns into, by trigger.
PROMPT_REASONS = {
    "shipping-shock": ["extra_costs", "extra_costs", "extra_costs", "delivery_slow", "total_unclear"],
    "payment-idle": ["payment_trust", "payment_trust", "payment_methods", "card_declined", "checkout_complicated"],
    "exit-save": ["account_required", "account_required", "returns_policy", "extra_costs", "product_question"],
}
RETURNER_REASONS = ["extra_costs", "payment_trust", "other"]
QUIET_REACH = [("contact", 22), ("shipping", 36), ("payment", 30), ("review", 12)]
QUIET_LINES = [(1, 50), (2, 33), (3, 13), (4, 4)]
CHATTY_LINES = [(1, 5), (2, 40), (3, 35), (4, 20)]  # bigger carts bring more questions
OFFER_KINDS_BY_REASON = {
    "extra_costs": ["free_shipping", "free_shipping", "discount", "cross_sell", "bundle"],
    "total_unclear": ["free_shipping", "discount"],
    "product_question": ["upsell", "upsell", "cross_sell", "bundle"],
    "delivery_slow": ["free_shipping", "discount", "upsell"],
    "payment_trust": ["discount"],
    "returns_policy": ["bundle", "upsell"],
    "other": ["cross_sell", "bundle", "upsell"],
}
DISCOUNT_CODES = ["CHAT10", "SAVE10", "THANKS15"]

FIRST_NAMES = ["Maya", "Daniel", "Priya", "Lucas", "Emma", "Noah", "Olivia", "Liam", "Sofia", "Ethan", "Chloe", "Mateo",
               "Hannah", "Omar", "Grace", "Leo", "Zoe", "Ryan", "Aisha", "Jonas", "Nina", "Marcus", "Elena", "Kai",
               "Fatima", "Tom", "Ines", "Samuel", "Julia", "Ben", "Amara", "Felix", "Clara", "Diego", "Rosa", "Adam"]
LAST_NAMES = ["Patel", "Kim", "Shah", "Martin", "Nguyen", "Garcia", "Müller", "Rossi", "Okafor", "Johnson", "Silva",
              "Chen", "Novak", "Dubois", "Andersen", "Lopez", "Brown", "Haddad", "Kowalski", "Tanaka", "Walsh", "Costa",
              "Fischer", "Ali", "Moreau", "Baker", "Ivanova", "Santos", "Berg", "Clarke"]

# Each conversation: the shopper's opening words, the agent's answer, the shopper's reply. `{product}`
# is an item of the cart; `{shipping}`, `{gap}` and `{total}` come from it.
SCRIPTS = {
    "extra_costs": (
        ["Why is shipping {shipping}? That's a lot for a small order.", "Shipping just added {shipping}, I didn't expect that.",
         "Is there any way to get free shipping on this?"],
        ["Standard shipping is free from $75.00; you're {gap} away right now.",
         "I understand, {shipping} on an order this size stings. Let me see what I can do."],
        ["Ok, what can you do?", "I'd rather not add more stuff just for shipping.", "Hmm, that's still a lot."],
    ),
    "account_required": (
        ["Do I have to create an account to order?", "I don't want another account, can I just check out?"],
        ["No account needed: leave the password field empty and you check out as a guest.",
         "You can check out as a guest; we only need an email for the receipt."],
        ["Oh good, I missed that.", "Ok, found it."],
    ),
    "payment_trust": (
        ["Is it safe to put my card in here? Never ordered from you before.", "Who processes the payment? I want to be sure it's secure."],
        ["Payments go through our PCI-compliant provider; we never see your card number.",
         "Good question: the card form is our payment provider's, encrypted end to end, and we never store card numbers."],
        ["Ok, that helps.", "Alright, thanks for explaining."],
    ),
    "delivery_slow": (
        ["How long does delivery take? I need it by Friday.", "Can you ship faster than 3-5 days?"],
        ["Standard takes 3-5 business days; Express is 1-2 for $15.00.",
         "If you order before 2 pm it ships today; Express gets there in 1-2 business days."],
        ["Friday is cutting it close then.", "Express it is, probably."],
    ),
    "checkout_complicated": (
        ["The address form keeps rejecting my postcode.", "I can't find where to put my apartment number."],
        ["Sorry about that! Put the apartment in the second address line; the postcode field wants 5 digits.",
         "Let me help: which field shows the error?"],
        ["That worked, thanks.", "Ugh, ok, trying again."],
    ),
    "total_unclear": (
        ["What will the total be with tax and shipping?", "Why doesn't the cart show the final price?"],
        ["Tax (8%) and shipping show from the shipping step; for your cart that's about {total} with standard shipping.",
         "Right now it's {total} all in with standard shipping."],
        ["Ok, good to know.", "A bit more than I thought."],
    ),
    "returns_policy": (
        ["Can I return the {product} if I don't like it?", "What's your returns policy?"],
        ["You can return anything within 30 days, free of charge, no questions asked.",
         "Returns are free for 30 days: there's a prepaid label in the parcel."],
        ["Great, that makes it easier.", "Ok, good."],
    ),
    "site_error": (
        ["The payment page froze after I clicked Pay. Did it go through?", "I get an error when I press Place order."],
        ["I'm sorry! Nothing was charged; I can see your cart is still open. Could you try once more?",
         "Sorry about that: nothing went through on our side. A page reload usually fixes it."],
        ["Trying again now.", "Still the same error..."],
    ),
    "payment_methods": (
        ["Do you take PayPal?", "Can I pay with Apple Pay?"],
        ["We take cards, PayPal and Apple Pay: they're under 'More ways to pay' on the payment step.",
         "Yes: PayPal and Apple Pay are at the bottom of the payment step."],
        ["Found it, thanks.", "Oh, I didn't see that."],
    ),
    "card_declined": (
        ["My card got declined twice.", "Payment declined but my bank says it's fine?"],
        ["Sorry! Declines come from the card issuer; double-check the billing postcode, or PayPal works too.",
         "That's the bank's side, unfortunately. The billing address must match the card's; PayPal is another way."],
        ["I'll try PayPal.", "I'll call my bank."],
    ),
    "product_question": (  # the question and its answer depend on the product: see PRODUCT_QUESTIONS
        [], [], ["Perfect, thanks!", "Good to know.", "Great, that's what I needed."],
    ),
    "just_browsing": (
        ["Just looking around, what's popular?", "Hi, just browsing for a gift."],
        ["Our fleece hoodie and the merino socks are the favourites this month.",
         "For a gift the market tote and the stoneware mug do well."],
        ["Thanks, I'll have a look.", "Nice, thanks."],
    ),
    "other": (
        ["Can I add a gift note to the order?", "Can I change the delivery address after ordering?"],
        ["Yes: there's a gift note field on the review step.",
         "Yes, within an hour of ordering: just reply to the confirmation email."],
        ["Great.", "Ok, thanks!"],
    ),
}
# Questions about the demo catalogue's products, by SKU prefix, with the agent's answer.
PRODUCT_QUESTIONS = {
    "TEE": ("Does the organic cotton tee shrink in the wash?", "It's pre-shrunk: wash at 30 and it keeps its size."),
    "HOODIE": ("Does the fleece hoodie run small? I'm usually a medium.",
               "It runs true to size; if you're between sizes, go up one. There's a size chart under the photos."),
    "CAP": ("Will the canvas cap fit a big head?", "The strap adjusts from 54 to 62 cm, so it fits most heads."),
    "MUG": ("Is the stoneware mug microwave safe?", "Yes, microwave and dishwasher safe."),
    "TOTE": ("Will a 15-inch laptop fit in the market tote?", "Yes: it's 42 x 38 cm, with a padded inside pocket."),
    "SOCKS": ("What sizes do the merino socks come in?", "S (36-39), M (40-43) and L (44-47); most people take M."),
}
RETURNER_OPENERS = ["I left a cart here yesterday, is it still saved?", "Hi, I got your email about my cart. Is the price the same?",
                    "Came back for my cart. Can I still get it delivered this week?"]
TRANSFER_NOTES = ["knows the payment provider's quirks.", "handles the bulk orders.", "covering while I'm on a break."]
RETURNER_REPLIES = ["Great, thanks!", "Good to know.", "Perfect."]
RETURNER_ANSWERS = ["Welcome back! Everything is still in your cart: {total} all in, same prices.",
                    "Yes, it's all saved. If you order today it ships tomorrow morning."]
CLOSING_AGENT = ["Anything else I can help with?", "Happy to help. Enjoy your order!", "Glad that's sorted!"]
CLOSING_AGENT_LEAVER = ["Anything else I can help with?", "No problem: your cart stays saved if you change your mind.",
                        "Sure, take your time. We're here if anything comes up."]
# A big cart pays for shipping only when the shopper picks Express: the words differ.
EXPRESS_COSTS = (["Express shipping is $15.00? That's steep.", "Why is shipping $15.00?"],
                 ["Express is $15.00; standard shipping is free on your cart, if 3-5 business days work for you.",
                  "That's Express. Standard is free on your order and usually arrives in 3-5 days."])
CLOSING_BUYER = ["That's all, ordering now. Thanks!", "Great, thanks for the help!", "Done, order placed. Thank you!"]
CLOSING_LEAVER = ["Thanks, I'll think about it.", "Ok, maybe later.", "I'll check with my partner first, thanks.",
                  "Ok, thanks anyway."]
OFFER_ANSWERS = {Offer.ACCEPTED: ["Accepted, thanks!", "Oh nice, done.", "Perfect, added."],
                 Offer.DECLINED: ["No thanks.", "I'll pass on that, thanks.", "Not this time."]}
RATING_COMMENTS = {5: ["Fast and friendly, thanks!", "Sorted in two minutes.", "Super helpful."], 4: ["Helpful.", "Good answer."],
                   3: ["Ok."], 2: ["Took a while to get an answer."], 1: ["Still couldn't pay.", "Waited too long."]}
CLOSE_NOTES = {
    "extra_costs": "Shipping cost put them off.", "card_declined": "Declined by the issuer; suggested PayPal.",
    "site_error": "Payment page froze on submit (mobile Safari). Reported.", "delivery_slow": "Needed it by Friday.",
    "product_question": "Sizing question.", "payment_trust": "First order; worried about card safety.",
}
NOTES = [
    "Repeat customer: third order this year.", "Asked about 12 tees for a team; follow up with bulk pricing.",
    "Sent the size chart by email too.", "Card declined twice: if it happens again, flag to payments.",
    "Wants the order before Friday: chose Express.", "Prefers to be contacted by email, not phone.",
]
# Ratings by how the conversation went: a sale, a problem that stayed (a declined card, a long wait), the rest.
RATINGS = {
    "converted": [(5, 66), (4, 25), (3, 5), (2, 2), (1, 2)],
    "unhappy": [(5, 44), (4, 26), (3, 11), (2, 8), (1, 11)],
    "other": [(5, 56), (4, 27), (3, 8), (2, 3), (1, 6)],
}
CALL_NOTES = {CallTask.REACHED: "Spoke to them; will finish the order tonight.", CallTask.VOICEMAIL: "Left a voicemail.",
              CallTask.NO_ANSWER: "", CallTask.RECOVERED: "Helped with the payment step; order placed."}


class Quota:
    """True for a share `p` of the draws, spread evenly from a random start: exact however few the draws."""

    def __init__(self, p: float, rng: random.Random):
        self.p = p
        self.acc = rng.random()

    def draw(self) -> bool:
        self.acc += self.p
        if self.acc >= 1:
            self.acc -= 1
            return True
        return False


class Deck:
    """Values dealt in exact proportion to integer weights: a shuffled deck, dealt out, then shuffled again."""

    def __init__(self, weights, rng: random.Random):
        items = weights.items() if isinstance(weights, dict) else weights
        self.cards = [value for value, weight in items for _ in range(weight)]
        self.rng = rng
        self.hand: list = []

    def draw(self):
        if not self.hand:
            self.hand = list(self.cards)
            self.rng.shuffle(self.hand)
        return self.hand.pop()


@dataclass
class Plan:
    """Unsaved rows in creation order; foreign keys point at other unsaved rows until they are written."""

    visitors: list = field(default_factory=list)
    carts: list = field(default_factory=list)
    cart_events: list = field(default_factory=list)
    page_views: list = field(default_factory=list)
    conversations: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    assignments: list = field(default_factory=list)
    offers: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    order_lines: list = field(default_factory=list)
    iv_assignments: list = field(default_factory=list)
    iv_events: list = field(default_factory=list)
    followups: list = field(default_factory=list)
    call_tasks: list = field(default_factory=list)
    left_messages: list = field(default_factory=list)


def cents(value) -> Decimal:
    return demo_store.cents(Decimal(value))


class CartSim:
    """One cart as the demo store's server prices it (demo_store), recording the events apply_cart would."""

    def __init__(self, planner: "Planner", visitor: Visitor, token: str, start: datetime):
        self.p = planner
        self.visitor = visitor
        self.token = token
        self.created_at = start
        self.lines: list[dict] = []
        self.step = "cart"
        self.max_step = "cart"
        self.method = "standard"
        self.code = ""
        self.free_shipping = False
        self.shipping_shown_at: datetime | None = None
        self.events: list[CartEvent] = []
        self.step_times: dict[str, datetime] = {"cart": start}
        self.last_activity = start
        self.email = self.phone = ""
        self.consent_email = self.consent_sms = False
        self.abandoned_at: datetime | None = None
        self.ordered_at: datetime | None = None
        self.arm: str | None = None  # the visitor's intervention arm, if they met a rule
        self.totals = self._price()

    # --- pricing, exactly as shopper_widget.demo_store.price_cart does it
    def _price(self) -> dict:
        subtotal = sum((Decimal(l["unit_price"]) * l["quantity"] for l in self.lines), Decimal("0"))
        discount = cents(subtotal * demo_store.discount_rate(self.code)) if self.code else Decimal("0")
        shipping = tax = Decimal("0")
        if CHECKOUT_STEP_ORDER[self.step] >= CHECKOUT_STEP_ORDER["shipping"] and self.lines:
            shipping = demo_store.SHIPPING_METHODS[self.method]
            if self.method == "standard" and (subtotal - discount >= demo_store.FREE_SHIPPING_FROM or self.free_shipping):
                shipping = Decimal("0")
            tax = cents((subtotal - discount) * demo_store.TAX_RATE)
        return {"subtotal": cents(subtotal), "discount": discount, "shipping": shipping, "tax": tax,
                "total": cents(subtotal - discount + shipping + tax)}

    def _event(self, kind: str, data: dict, at: datetime, source: str = "store") -> None:
        self.events.append(CartEvent(kind=kind, data=data, source=source, created_at=at))

    def _changed(self, at: datetime) -> None:
        """After any change: the events apply_cart derives from the new price (shipping first shown, discount)."""
        old, new = self.totals, self._price()
        if new["shipping"] > 0 and old["shipping"] == 0 and self.shipping_shown_at is None:
            self.shipping_shown_at = at
            self._event(CartEvent.SHIPPING_SHOWN, {"shipping": f"{new['shipping']:.2f}"}, at)
        if new["discount"] > 0 and new["discount"] != old["discount"]:
            self._event(CartEvent.DISCOUNT_APPLIED, {"discount": f"{new['discount']:.2f}"}, at)
        self.totals = new
        self.last_activity = max(self.last_activity, at)

    def add(self, product: Product, quantity: int, at: datetime, unit_price: Decimal | None = None) -> None:
        line = next((l for l in self.lines if l["sku"] == product.sku), None)
        if line is not None:
            before = line["quantity"]
            line["quantity"] += quantity
            self._event(CartEvent.QUANTITY_CHANGED, {"sku": product.sku, "from": before, "to": line["quantity"]}, at)
        else:
            self.lines.append({"sku": product.sku, "name": product.name, "quantity": quantity,
                               "unit_price": f"{(unit_price if unit_price is not None else product.price):.2f}",
                               "image_url": product.image_url, "url": product.url})
            self._event(CartEvent.ITEM_ADDED, {"sku": product.sku, "name": product.name, "quantity": quantity}, at)
        self._changed(at)

    def remove(self, sku: str, at: datetime) -> None:
        line = next(l for l in self.lines if l["sku"] == sku)
        self.lines.remove(line)
        self._event(CartEvent.ITEM_REMOVED, {"sku": sku, "name": line["name"]}, at)
        self._changed(at)

    def go(self, step: str, at: datetime) -> None:
        if step == self.step:
            return
        self._event(CartEvent.STEP_CHANGED, {"from": self.step, "to": step}, at)
        self.step = step
        if CHECKOUT_STEP_ORDER[step] > CHECKOUT_STEP_ORDER[self.max_step]:
            self.max_step = step
        self.step_times.setdefault(step, at)
        self._changed(at)

    def walk_to(self, step: str, at: datetime, rng: random.Random) -> datetime:
        """Go through each checkout step up to `step`, a minute or two apart; returns when it got there."""
        for name in CHECKOUT_STEPS[CHECKOUT_STEP_ORDER[self.step] + 1:CHECKOUT_STEP_ORDER[step] + 1]:
            at += timedelta(seconds=rng.randint(40, 200))
            if name == "contact":
                self.p.fill_contact(self, at)
            if name == "shipping":
                self.p.fill_phone(self)
            self.go(name, at)
        return at

    def use_code(self, code: str, at: datetime) -> None:
        self.code = code
        self._changed(at)

    def waive_shipping(self, at: datetime) -> None:
        self.free_shipping = True
        self._changed(at)

    @property
    def gap(self) -> Decimal:
        return max(demo_store.FREE_SHIPPING_FROM - self.totals["subtotal"], Decimal("0"))

    def model(self, site: Site) -> Cart:
        t = self.totals
        cart = Cart(
            site=site, cart_token=self.token, visitor=self.visitor, source=Cart.STORE, currency=site.currency,
            items=[dict(l) for l in self.lines], subtotal=t["subtotal"], shipping=t["shipping"], tax=t["tax"],
            discount=t["discount"], total=t["total"], checkout_step=self.step, max_step_reached=self.max_step,
            email=self.email, phone=self.phone, consent_email=self.consent_email, consent_sms=self.consent_sms,
            created_at=self.created_at, updated_at=self.last_activity, last_activity_at=self.last_activity,
            abandoned_at=self.abandoned_at, ordered_at=self.ordered_at,
        )
        for event in self.events:
            event.cart = cart
        return cart


class Planner:
    """Plans the history: one pass over the days, then a few hand-placed rows for the console's Follow-ups."""

    def __init__(self, site: Site, agents: list, now: datetime, seed: int = SEED, days: int = DAYS):
        self.site = site
        self.now = now
        self.rng = random.Random(seed)
        self.first_day = now.astimezone(dt_timezone.utc).date() - timedelta(days=days - 1)
        self.days = days
        self.agents = agents
        self.agent_weights = [1.3 if i == 0 else 1.0 for i in range(len(agents))]
        self.names = {a.pk: (a.agent_profile.display_name if hasattr(a, "agent_profile") else a.get_username())
                      for a in agents}
        self.speed = {a.pk: 0.85 + 0.3 * i for i, a in enumerate(agents)}  # the first agent answers a bit faster
        self.products = list(Product.objects.filter(site=site).order_by("price", "sku"))
        if not self.products:
            raise ValueError(f"site {site.key} has no products to fill carts with")
        self.rules = {r.trigger: r for r in InterventionRule.objects.filter(site=site)}
        self.steps = list(FollowUpStep.objects.filter(site=site, enabled=True).order_by("delay_minutes", "id"))
        self.plan = Plan()
        self.quotas = {}
        self.decks = {"reason": Deck(REASON_WEIGHTS, self.rng),
                      **{f"rating:{k}": Deck(w, self.rng) for k, w in RATINGS.items()}}
        self.carts: list[CartSim] = []
        self.counter = 0
        self.base_url = settings.PUBLIC_BASE_URL.rstrip("/") + "/demo/"

    # --- small draws ------------------------------------------------------------------
    def pick(self, weighted):
        """One key of a {key: weight} dict or a [(key, weight)] list."""
        items = list(weighted.items()) if isinstance(weighted, dict) else list(weighted)
        return self.rng.choices([k for k, _ in items], [w for _, w in items])[0]

    def lognormal(self, median: float, sigma: float, low: float, high: float) -> float:
        return min(max(median * math.exp(sigma * self.rng.gauss(0, 1)), low), high)

    def seconds(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=self.rng.uniform(low, high))

    def share(self, group: str, p: float) -> bool:
        """True for exactly a share `p` of the draws of `group` (see Quota)."""
        if group not in self.quotas:
            self.quotas[group] = Quota(p, self.rng)
        return self.quotas[group].draw()

    def converts(self, kind: str, arm: str | None) -> bool:
        return self.share(f"{kind}:{arm}", CONVERT[kind])

    def agent(self):
        return self.rng.choices(self.agents, self.agent_weights)[0]

    def fill(self, template: str, cart: CartSim) -> str:
        product = self.rng.choice(cart.lines)["name"].split(",")[0] if cart.lines else "hoodie"
        return template.format(product=product[:1].lower() + product[1:],
                               shipping=f"${cart.totals['shipping'] or demo_store.SHIPPING_METHODS['standard']:.2f}",
                               gap=f"${cart.gap:.2f}", total=f"${cart.totals['total']:.2f}")

    # --- shoppers and carts ---------------------------------------------------------------
    def new_visitor(self, at: datetime) -> Visitor:
        visitor = Visitor(site=self.site, public_id=uuid.UUID(int=self.rng.getrandbits(128), version=4), created_at=at,
                          last_seen_at=at)
        self.plan.visitors.append(visitor)
        return visitor

    def new_cart(self, visitor: Visitor, start: datetime, lines: int | None = None) -> CartSim:
        self.counter += 1
        cart = CartSim(self, visitor, f"{CART_PREFIX}{self.counter:05d}", start)
        cheap = [p for p in self.products if p.price < 30] or self.products
        at = start
        for i in range(lines or self.pick(QUIET_LINES)):
            product = self.rng.choice(self.products if i == 0 or self.rng.random() < 0.5 else cheap)
            cart.add(product, self.pick([(1, 80), (2, 16), (3, 4)]), at)
            at += self.seconds(20, 150)
        self.carts.append(cart)
        return cart

    def fill_contact(self, cart: CartSim, at: datetime) -> None:
        """The contact step: an email (almost always), a name, and sometimes consent to emails."""
        v = cart.visitor
        if not v.name and self.rng.random() < 0.8:
            v.name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        if self.rng.random() < 0.93:
            local = (v.name.lower().replace(" ", ".").replace("ü", "u") if v.name
                     else f"shopper{self.rng.randint(100, 9999)}")
            cart.email = v.email = v.email or f"{local}@example.com"
            cart.consent_email = self.rng.random() < 0.55

    def fill_phone(self, cart: CartSim) -> None:
        """The shipping step: a phone for the courier, sometimes with consent to texts (and calls)."""
        if not cart.phone and self.rng.random() < 0.45:
            cart.phone = cart.visitor.phone = normalise_phone(f"+1 415 555 {self.rng.randint(100, 199):04d}")
            cart.consent_sms = self.rng.random() < 0.5

    def pages(self, cart: CartSim, until: datetime) -> None:
        """Page views as the demo store's hash routes name them, ending with where the shopper was last."""
        v = cart.visitor
        views = [(v.created_at, "#/", "Shop", ""), (cart.created_at + timedelta(seconds=5), "#/cart", "Cart", "cart")]
        for step in CHECKOUT_STEPS[1:CHECKOUT_STEP_ORDER[cart.max_step] + 1]:
            at = cart.step_times.get(step)
            if at is None or at > until:
                continue
            if step == "complete":
                views.append((at, f"#/order/{cart.token[-5:]}", "Order confirmed", "complete"))
            else:
                views.append((at, f"#/checkout/{step}", f"Checkout: {step}", step))
        for at, route, title, step in views:
            self.plan.page_views.append(PageView(visitor=v, url=self.base_url + route, title=f"{title} · Demo Store",
                                                 checkout_step=step, created_at=at))
        last = max(views, key=lambda x: x[0])
        v.current_url, v.current_title = self.base_url + last[1], f"{last[2]} · Demo Store"
        v.checkout_step = cart.step
        v.step_changed_at = cart.step_times.get(cart.step)

    # --- interventions ----------------------------------------------------------------
    def trigger(self, cart: CartSim, reach: str, leave_at: datetime) -> tuple[str, datetime] | None:
        """Which seeded rule the shopper met first, and when (docs/integration.md section 5)."""
        if cart.shipping_shown_at is not None:
            return "shipping-shock", cart.shipping_shown_at + self.seconds(1, 3)
        if CHECKOUT_STEP_ORDER[reach] >= CHECKOUT_STEP_ORDER["payment"] and self.rng.random() < 0.6:
            return "payment-idle", cart.step_times["payment"] + self.seconds(45, 60)
        if cart.totals["total"] >= Decimal("30") and self.rng.random() < 0.5:
            return "exit-save", leave_at
        return None

    def assign(self, visitor: Visitor, trigger: str, at: datetime, stratum: str) -> InterventionAssignment:
        """The visitor's arm: the site's holdout share, spread evenly over each kind of shopper (a stratified draw)."""
        holdout = self.share(f"holdout:{stratum}", float(self.site.holdout_share))
        arm = InterventionAssignment.HOLDOUT if holdout else InterventionAssignment.TREATMENT
        a = InterventionAssignment(visitor=visitor, site=self.site, arm=arm, first_trigger=trigger, assigned_at=at)
        self.plan.iv_assignments.append(a)
        self.iv_event(a, trigger, InterventionEvent.TRIGGERED, at)
        return a

    def iv_event(self, a: InterventionAssignment, trigger: str, action: str, at: datetime) -> None:
        self.plan.iv_events.append(InterventionEvent(assignment=a, rule=self.rules.get(trigger), trigger=trigger,
                                                     action=action, created_at=at))

    # --- one shopper's visit ------------------------------------------------------------
    def session(self, start: datetime, chatty: bool, staffed: bool) -> None:
        """A shopper fills a cart, goes some way into the checkout, maybe chats, then orders or leaves."""
        rng = self.rng
        visitor = self.new_visitor(start - self.seconds(30, 900))
        reason = self.decks["reason"].draw() if chatty else None
        cart = self.new_cart(visitor, start, lines=self.pick(CHATTY_LINES) if chatty else None)
        if chatty:
            reach = rng.choice(REASON_STEPS[reason])
        else:
            reach = self.pick(QUIET_REACH)
        if reason == "extra_costs" and cart.totals["subtotal"] >= demo_store.FREE_SHIPPING_FROM:
            cart.method = "express"  # a cost to complain about even on a big cart
        at = cart.walk_to(reach, cart.last_activity, rng)
        if reason == "extra_costs" and cart.shipping_shown_at is None:
            reach = "shipping"
            at = cart.walk_to("shipping", at, rng)
        if cart.shipping_shown_at is not None and len(cart.lines) > 1 and rng.random() < 0.2:
            # Shipping shock: the cheapest line goes, to bring the total down.
            cheapest = min(cart.lines, key=lambda l: Decimal(l["unit_price"]) * l["quantity"])
            at = max(at, cart.shipping_shown_at) + self.seconds(15, 60)
            cart.remove(cheapest["sku"], at)
        hesitate = at + self.seconds(20, 150)

        # A prompt can only fire while no conversation is open: chatty shoppers meet it before they type.
        trig = self.trigger(cart, reach, hesitate + self.seconds(30, 240))
        arm, proactive = None, False
        if trig is not None and (not chatty or trig[1] < hesitate):
            a = self.assign(visitor, *trig, stratum="chatty" if chatty else "quiet")
            arm = cart.arm = a.arm
            if arm == InterventionAssignment.TREATMENT:
                shown = trig[1] + timedelta(seconds=1)
                self.iv_event(a, trig[0], InterventionEvent.SHOWN, shown)
                fate, accept = rng.random(), (0.5 if chatty else PROMPT_ACCEPTED)
                if fate < accept:
                    self.iv_event(a, trig[0], InterventionEvent.ACCEPTED, shown + self.seconds(4, 30))
                    proactive = True
                    hesitate = shown + self.seconds(40, 90)
                    reason = reason or rng.choice(PROMPT_REASONS[trig[0]])
                elif fate < accept + PROMPT_DISMISSED:  # the rest let it be, neither accepted nor dismissed
                    self.iv_event(a, trig[0], InterventionEvent.DISMISSED, shown + self.seconds(2, 15))

        missed = False
        if reason is not None:
            missed = rng.random() < (0.015 if staffed else 0.15)
            kind = "missed" if missed else ("proactive" if proactive and not chatty else "chatty")
            converted = self.converts(kind, arm)
            if converted and reason == "just_browsing":
                reason = "product_question"
            end = self.conversation(visitor, cart, hesitate, reason, converted=converted, missed=missed,
                                    proactive=proactive, staffed=staffed)
        else:
            converted = self.converts("quiet", arm)
            end = hesitate
            if converted and rng.random() < 0.12:
                cart.use_code(demo_store.WELCOME_CODE, end - self.seconds(5, 30))
        self.finish(cart, end, converted, quiet=reason is None)

    def finish(self, cart: CartSim, end: datetime, converted: bool, quiet: bool) -> None:
        """Order now, order later, or leave: abandonment, follow-ups, a recovery or a return chat."""
        rng = self.rng
        visitor = cart.visitor
        late = converted and self.share(f"late:{cart.arm}", LATE_ORDER)
        if converted and not late:
            at = cart.walk_to("review", end, rng)
            self.order(cart, at + self.seconds(30, 150))
            return
        visitor.last_seen_at = end + self.seconds(10, 90)
        order_at = None
        if late:
            order_at = end + timedelta(hours=rng.uniform(2, 36))
            if order_at > self.now - LAST_DECISION:
                order_at = None
        if cart.max_step == "cart":
            if order_at is not None:
                self.order(cart, cart.walk_to("review", order_at, rng) + self.seconds(30, 120))
            else:
                self.pages(cart, self.now)
            return
        abandoned_at = max(cart.last_activity, visitor.last_seen_at) + timedelta(minutes=self.site.abandon_after_minutes)
        if abandoned_at > self.now:
            self.pages(cart, self.now)  # the abandonment task will mark it, as it would any live cart
            return
        cart.abandoned_at = abandoned_at
        cart._event(CartEvent.ABANDONED, {"total": f"{cart.totals['total']:.2f}", "currency": self.site.currency,
                                          "checkout_step": cart.max_step}, abandoned_at, source="system")
        returner = quiet and order_at is None and self.share(f"return:{cart.arm}", RETURNS)
        ret_at = abandoned_at + timedelta(hours=rng.uniform(2, 30)) if returner else None
        if ret_at is not None and ret_at > self.now - timedelta(hours=1):
            returner, ret_at = False, None
        ret_converted = returner and self.share(f"return_buys:{cart.arm}", RETURN_BUYS)
        if returner:
            # The shopper comes back and asks; if they buy, the order follows the chat.
            end_chat = self.conversation(visitor, cart, ret_at, rng.choice(RETURNER_REASONS),
                                         converted=ret_converted, missed=False, proactive=False,
                                         staffed=ret_at.hour in STAFFED_HOURS, returning=True)
            visitor.last_seen_at = end_chat + self.seconds(10, 90)
            if ret_converted:
                order_at = end_chat + self.seconds(60, 600)
        order_at = self.followups(cart, order_at, recover=not returner)
        if order_at is not None:
            cart.abandoned_at = None  # the shopper came back: the store's next cart update clears it
            at = cart.walk_to("review", order_at - self.seconds(120, 300), rng)
            self.order(cart, max(at + self.seconds(20, 60), order_at))
        else:
            self.pages(cart, self.now)

    # --- follow-ups (chatdesk.actions.followups and calls) ------------------------------
    def followups(self, cart: CartSim, order_at: datetime | None, recover: bool, calls_open: bool = False
                  ) -> datetime | None:
        """The rows the follow-up scan and delivery would have made, and any order they brought back.

        The scan only picks carts still abandoned and not ordered, at or over the step's minimum,
        with an address for the channel; delivery skips those without consent. Steps not due yet
        are left to the running worker.
        """
        rng = self.rng
        for step in self.steps:
            due = cart.abandoned_at + timedelta(minutes=step.delay_minutes)
            if due > self.now or (order_at is not None and due >= order_at):
                break
            if cart.totals["total"] < step.min_cart_value:
                continue
            if step.channel == FollowUpStep.EMAIL:
                address, consent = cart.email, cart.consent_email
            else:
                address, consent = cart.phone, cart.consent_sms
            if not address:
                continue
            fu = FollowUp(cart=None, step=step, channel=step.channel, due_at=due, recipient=address,
                          created_at=due + self.seconds(1, 50))
            fu.sim_cart = cart
            self.plan.followups.append(fu)
            if not consent:
                fu.status, fu.skip_reason = FollowUp.SKIPPED, "no_consent"
                continue
            fu.status = FollowUp.SENT
            if step.channel == FollowUpStep.CALL:
                recovered = self.call(fu, order_at, recover, calls_open)
            else:
                fu.sent_at = fu.created_at + self.seconds(1, 5)
                recovered = None
                if order_at is not None and rng.random() < 0.4:
                    fu.clicked_at = order_at - self.seconds(120, 900)  # the way back was the link
                    fu.clicked_at = max(fu.clicked_at, fu.sent_at + timedelta(minutes=1))
                elif self.share(f"click:{step.channel}:{cart.arm}", CLICKS[step.channel]):
                    fu.clicked_at = fu.sent_at + timedelta(minutes=rng.uniform(5, 18 * 60))
                    if recover and self.share(f"click_buys:{cart.arm}", CLICK_BUYS):
                        recovered = fu.clicked_at + self.seconds(180, 1500)
            if recovered is not None and recovered <= self.now - LAST_DECISION and (
                    order_at is None or recovered < order_at):
                order_at = recovered
        return order_at

    def call(self, fu: FollowUp, order_at: datetime | None, recover: bool, keep_open: bool) -> datetime | None:
        """A call task on the agents' list: done with an outcome (and maybe an order), or still open if recent."""
        rng = self.rng
        task = CallTask(followup=fu, cart=None, created_at=fu.created_at + self.seconds(1, 5))
        task.sim_cart = fu.sim_cart
        self.plan.call_tasks.append(task)
        done = fu.due_at + timedelta(minutes=rng.uniform(20, 300))
        if keep_open or done > self.now - timedelta(hours=6):
            return None  # still on the list
        task.done_at, task.agent = done, self.agent()
        task.outcome = self.pick([(CallTask.REACHED, 45), (CallTask.VOICEMAIL, 30), (CallTask.NO_ANSWER, 25)])
        recovered = None
        if task.outcome == CallTask.REACHED and (
                (order_at is not None and order_at > done) or (recover and self.share("call_buys", CALL_BUYS))):
            recovered = order_at if order_at is not None and order_at > done else done + self.seconds(600, 5400)
            task.outcome = CallTask.RECOVERED
        task.note = CALL_NOTES[task.outcome]
        if task.outcome != CallTask.NO_ANSWER:
            fu.sent_at = done  # a call counts as contact once it reached them or left a voicemail
        return recovered

    # --- conversations (chatdesk.actions.conversations) ---------------------------------
    def conversation(self, visitor: Visitor, cart: CartSim, created: datetime, reason: str, *, converted: bool,
                     missed: bool, proactive: bool, staffed: bool, returning: bool = False) -> datetime:
        """One conversation with its messages, offers, notes and routing records; returns when it ended."""
        rng = self.rng
        conv = Conversation(site=self.site, visitor=visitor, cart=None, created_at=created, queued_at=created,
                            proactive=proactive)
        conv.sim_cart = cart
        self.plan.conversations.append(conv)
        messages: list[Message] = []

        def say(sender, text, at, author=None):
            messages.append(Message(conversation=conv, seq=len(messages) + 1, sender=sender, text=text, created_at=at,
                                    author=author, author_name=self.names[author.pk] if author else ""))
            return at

        opener, answers, replies = SCRIPTS[reason]
        if reason == "extra_costs" and cart.method == "express":
            opener, answers = EXPRESS_COSTS
        if reason == "product_question":
            line = rng.choice(cart.lines)
            question, answer = PRODUCT_QUESTIONS.get(line["sku"].split("-")[0], (
                f"Can you tell me more about the {line['name'].lower()}?",
                "Sure: it's one of our best sellers, and returns are free for 30 days."))
            opener, answers = [question], [answer]
        if returning:
            opener, answers, replies = RETURNER_OPENERS, RETURNER_ANSWERS, RETURNER_REPLIES
        first_text = self.fill(rng.choice(opener), cart)
        say(Message.SHOPPER, first_text, created)
        if missed:
            say(Message.SHOPPER, rng.choice(["Hello?", "Anyone there?", "Hi, still waiting"]), created + self.seconds(60, 200))
            conv.status, conv.missed_at = Conversation.MISSED, created + self.seconds(300, 360)
            conv.wait_seconds = int((conv.missed_at - created).total_seconds())
            conv.over_target = True
            conv.last_seq, conv.last_message_at = len(messages), messages[-1].created_at
            self.plan.messages += messages
            return conv.missed_at

        agent = self.agent()
        busy = 1.4 if created.hour in (11, 12, 13, 14, 15) else 1.0
        wait = self.lognormal((18 if staffed else 70) * busy * self.speed[agent.pk], 0.8, 3, 900)
        assigned = created + timedelta(seconds=wait)
        reply = assigned + timedelta(seconds=self.lognormal(9 * self.speed[agent.pk], 0.5, 3, 120))
        conv.status, conv.agent = Conversation.CLOSED, agent
        conv.first_assigned_at = conv.assigned_at = assigned
        conv.wait_seconds, conv.over_target = int(wait), wait > self.site.target_wait_seconds
        assignment = Assignment(conversation=conv, agent=agent, kind=Assignment.CLAIM, started_at=assigned)
        self.plan.assignments.append(assignment)

        first_name = visitor.name.split(" ")[0] if visitor.name else ""
        hello = f"Hi {first_name}! " if first_name and rng.random() < 0.6 else rng.choice(["Hi! ", "Hello! ", ""])
        at = say(Message.AGENT, hello + self.fill(rng.choice(answers), cart), reply, agent)
        conv.first_agent_message_at = reply

        handover = rng.random() < 0.04 and len(self.agents) > 1
        if handover:
            # The agent's console dropped (the routing rules hand it back to the queue), or they passed it on.
            other = rng.choice([a for a in self.agents if a.pk != agent.pk])
            at += self.seconds(60, 180)
            if rng.random() < 0.5:
                assignment.ended_at, assignment.end_reason = at, Assignment.RETURNED
                say(Message.SYSTEM, RETURNED_TEXT, at)
                conv.queued_at = at
                at += self.seconds(8, 40)
                kind = Assignment.CLAIM
            else:
                assignment.ended_at, assignment.end_reason = at, Assignment.TRANSFERRED
                self.plan.notes.append(Note(conversation=conv, author=agent, author_name=self.names[agent.pk],
                                            text=f"Transferred by {self.names[agent.pk]} to {self.names[other.pk]}: "
                                                 + rng.choice(TRANSFER_NOTES), created_at=at))
                kind = Assignment.TRANSFER
            assignment = Assignment(conversation=conv, agent=other, kind=kind, started_at=at)
            self.plan.assignments.append(assignment)
            conv.agent, conv.assigned_at, agent = other, at, other
            at = say(Message.AGENT, f"Hi, {self.names[other.pk]} here, taking over. Where were we?",
                     at + self.seconds(5, 30), agent)

        at = say(Message.SHOPPER, self.fill(rng.choice(replies), cart), at + self.seconds(15, 70))
        kinds = OFFER_KINDS_BY_REASON.get(reason)
        if kinds and rng.random() < (0.75 if reason == "extra_costs" else 0.45):
            at = self.offer(conv, cart, agent, rng.choice(kinds), at + self.seconds(15, 50), converted, say)
        if converted:
            at = say(Message.SHOPPER, rng.choice(CLOSING_BUYER), at + self.seconds(20, 90))
            at = say(Message.AGENT, rng.choice(CLOSING_AGENT), at + self.seconds(8, 30), agent)
        else:
            at = say(Message.AGENT, rng.choice(CLOSING_AGENT_LEAVER), at + self.seconds(10, 40), agent)
            if rng.random() < 0.7:
                at = say(Message.SHOPPER, rng.choice(CLOSING_LEAVER), at + self.seconds(15, 60))
        conv.closed_at = at + self.seconds(30, 240)
        conv.close_reason = reason
        if reason in CLOSE_NOTES and rng.random() < 0.25:
            conv.close_note = CLOSE_NOTES[reason]
        assignment.ended_at, assignment.end_reason = conv.closed_at, Assignment.CLOSED
        if rng.random() < 0.08:
            self.plan.notes.append(Note(conversation=conv, author=agent, author_name=self.names[agent.pk],
                                        text=rng.choice(NOTES), created_at=messages[1].created_at + self.seconds(5, 60)))
        if rng.random() < 0.42:
            self.rate(conv, converted, reason, wait)
        conv.last_seq, conv.last_message_at = len(messages), messages[-1].created_at
        self.plan.messages += messages
        return conv.closed_at

    def rate(self, conv: Conversation, converted: bool, reason: str, wait: float) -> None:
        unhappy = reason in ("card_declined", "site_error") or wait > 180
        conv.rating = self.decks[f"rating:{'converted' if converted else 'unhappy' if unhappy else 'other'}"].draw()
        conv.rated_at = conv.closed_at + self.seconds(5, 120)
        if self.rng.random() < 0.3:
            conv.rating_comment = self.rng.choice(RATING_COMMENTS[conv.rating])

    def offer(self, conv: Conversation, cart: CartSim, agent, kind: str, at: datetime, converted: bool, say) -> datetime:
        """An offer as the console makes it (chatdesk.actions.offers) and the shopper's answer, applied to the cart."""
        rng = self.rng
        in_cart = {l["sku"] for l in cart.lines}
        others = [p for p in self.products if p.sku not in in_cart] or self.products
        product, sku, price, code, title = None, "", None, "", ""
        if kind == "upsell":
            product = max(others, key=lambda p: p.price)
            price = cents(product.price * Decimal("0.9"))
            title = f"{product.name}, 10% off"
            line = f"The {product.name.lower()} goes well with that; I can do it for ${price} today."
        elif kind == "cross_sell":
            product = rng.choice([p for p in others if p.price < 30] or others)
            price = cents(product.price * Decimal("0.85"))
            title = f"Add the {product.name.lower()} for ${price}"
            line = f"Want to add the {product.name.lower()}? ${price} if you add it now."
        elif kind == "bundle":
            product = rng.choice([p for p in self.products if p.price < 30] or self.products)
            price = cents(product.price * Decimal("0.8"))
            title = f"2 × {product.name} for ${price * 2}"
            line = f"Bundle deal: 2 × {product.name.lower()} for ${price * 2}."
        elif kind == "discount":
            code = rng.choice(DISCOUNT_CODES)
            pct = int(demo_store.discount_rate(code) * 100)
            title, line = f"{pct}% off your order", f"Here's {pct}% off with code {code}: it's in the offer below."
        else:
            title, line = "Free shipping on this order", "I've added free shipping to your order: just accept the offer below."
        if product is not None:
            sku = product.sku
        say(Message.AGENT, line, at, agent)
        created = at + timedelta(seconds=1)
        # Quotas per kind, so that every kind shows each outcome even with a dozen offers of it.
        if self.share(f"accepted:{kind}:{converted}", 0.72 if converted else 0.1):
            status = Offer.ACCEPTED
        else:
            status = Offer.DECLINED if self.share(f"declined:{kind}", 0.55) else Offer.EXPIRED
        o = Offer(conversation=conv, agent=agent, kind=kind, title=title, sku=sku, price=price, discount_code=code,
                  status=status, created_at=created,
                  expires_at=created + timedelta(minutes=self.site.offer_lifetime_minutes))
        self.plan.offers.append(o)
        if status == Offer.EXPIRED:
            return created
        o.responded_at = created + self.seconds(10, 90)
        say(Message.SHOPPER, rng.choice(OFFER_ANSWERS[status]), o.responded_at + timedelta(seconds=1))
        if status == Offer.ACCEPTED:
            # What the demo store does with an accepted offer: the line at the offered price, the code, free shipping.
            if kind in ("upsell", "cross_sell"):
                cart.add(product, 1, o.responded_at + timedelta(seconds=2), unit_price=price)
            elif kind == "bundle":
                cart.add(product, 2, o.responded_at + timedelta(seconds=2), unit_price=price)
            elif kind == "discount":
                cart.use_code(code, o.responded_at + timedelta(seconds=2))
            else:
                cart.waive_shipping(o.responded_at + timedelta(seconds=2))
        return o.responded_at + timedelta(seconds=1)

    # --- orders (chatdesk.actions.orders) --------------------------------------------------
    def order(self, cart: CartSim, at: datetime) -> Order:
        """The order the store reports, closing its cart as mark_cart_ordered does."""
        cart.go("complete", at)  # the store's last cart update (demo_store.place_order), then the order
        cart.step_times["complete"] = at
        t = cart.totals
        order = Order(site=self.site, order_id=f"{ORDER_PREFIX}{10000 + len(self.plan.orders) + 1}", visitor=cart.visitor,
                      source="demo", cart_token=cart.token, currency=self.site.currency, total=t["total"],
                      discount_codes=[cart.code] if cart.code else [], email=cart.email, created_at=at,
                      received_at=at + self.seconds(1, 4))
        order.updated_at = order.received_at
        order.sim_cart = cart
        self.plan.orders.append(order)
        for line in cart.lines:
            self.plan.order_lines.append(OrderLine(order=order, sku=line["sku"], name=line["name"],
                                                   quantity=line["quantity"], unit_price=Decimal(line["unit_price"])))
        # mark_cart_ordered: ordered_at and the `ordered` event.
        cart.ordered_at = at
        cart._event(CartEvent.ORDERED, {"order_id": order.order_id, "total": f"{t['total']:.2f}",
                                        "currency": self.site.currency}, at, source=order.source)
        cart.visitor.last_seen_at = at + self.seconds(20, 120)
        self.pages(cart, at)
        return order

    # --- the plan -------------------------------------------------------------------------
    def build(self) -> Plan:
        latest = self.now - LATEST_START
        for d in range(self.days):
            day = self.first_day + timedelta(days=d)
            midnight = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
            scale = WEEKDAY_SCALE[day.weekday()] * (0.9 + 0.2 * d / self.days)  # a store that grows a little
            for chatty, per_day in ((True, CHATTY_PER_DAY), (False, QUIET_PER_DAY)):
                count = round(per_day * scale * self.rng.uniform(0.85, 1.15))
                for _ in range(count):
                    hour = self.pick(list(enumerate(HOUR_WEIGHTS)))
                    start = midnight + timedelta(hours=hour, seconds=self.rng.uniform(0, 3600))
                    if start <= latest:
                        self.session(start, chatty, staffed=hour in STAFFED_HOURS)
        self.featured()
        return self.plan

    def featured(self) -> None:
        """Hand-placed recent rows, so the console's Follow-ups and the floor's "today" always have something."""
        rng, now = self.rng, self.now
        # Two calls still to make: big carts left at payment by shoppers who agreed to be contacted.
        priciest = max(self.products, key=lambda p: p.price)
        for hours, lines, extra in ((6, 1, 2), (21, 3, 1)):
            start = now - timedelta(hours=hours, minutes=rng.randint(35, 50))
            visitor = self.new_visitor(start - timedelta(minutes=4))
            cart = self.new_cart(visitor, start, lines=lines)
            cart.add(priciest, extra, start + timedelta(minutes=lines))  # over the call step's minimum
            at = cart.walk_to("payment", start + timedelta(minutes=1), rng)
            visitor.name = visitor.name or ("Maya Patel" if hours == 6 else "Daniel Kim")
            cart.email = visitor.email = cart.email or visitor.name.lower().replace(" ", ".") + "@example.com"
            cart.phone = visitor.phone = cart.phone or normalise_phone(f"+1 415 555 {rng.randint(200, 299):04d}")
            cart.consent_email = cart.consent_sms = True
            visitor.last_seen_at = at + timedelta(minutes=2)
            cart.abandoned_at = visitor.last_seen_at + timedelta(minutes=self.site.abandon_after_minutes)
            cart._event(CartEvent.ABANDONED, {"total": f"{cart.totals['total']:.2f}", "currency": self.site.currency,
                                              "checkout_step": cart.max_step}, cart.abandoned_at, source="system")
            self.followups(cart, None, recover=False, calls_open=True)
            self.pages(cart, now)
        # Chats nobody answered in the last days, and messages left while nobody was online.
        for hours, reason in ((27, "product_question"), (52, "delivery_slow")):
            start = now - timedelta(hours=hours)
            visitor = self.new_visitor(start - timedelta(minutes=6))
            cart = self.new_cart(visitor, start - timedelta(minutes=5))
            if reason == "delivery_slow":
                cart.walk_to("shipping", cart.last_activity, rng)
            self.conversation(visitor, cart, start, reason, converted=False, missed=True, proactive=False, staffed=False)
            self.finish(cart, start + timedelta(minutes=6), converted=False, quiet=False)
        for hours, status in ((9, LeftMessage.OPEN), (98, LeftMessage.DONE)):
            start = now - timedelta(hours=hours)
            visitor = self.new_visitor(start - timedelta(minutes=8))
            cart = self.new_cart(visitor, start - timedelta(minutes=7), lines=2)
            visitor.name = "Jonas Berg" if status == LeftMessage.OPEN else "Elena Rossi"
            visitor.email = visitor.name.lower().replace(" ", ".") + "@example.com"
            self.pages(cart, now)
            text = ("Can someone call me about 40 tees for our running club? Happy to order this week."
                    if status == LeftMessage.OPEN else "Do the hoodies come in XXL? Please email me.")
            left = LeftMessage(site=self.site, visitor=visitor, client_id=f"left-{hours}", text=text,
                               email=visitor.email, phone="+14155550177" if status == LeftMessage.OPEN else "",
                               reason=LeftMessage.NO_AGENTS, status=status, created_at=start)
            if status == LeftMessage.DONE:
                agent = self.agents[-1]
                left.agent = left.done_by = agent
                left.assigned_at = start + timedelta(hours=7)
                left.done_at = left.assigned_at + timedelta(minutes=12)
                left.done_note = "Replied by email: XXL is back in stock next week."
            self.plan.left_messages.append(left)
        # The floor counts conversations opened today (UTC): when the day is young, a short one or two.
        midnight = datetime.combine(now.astimezone(dt_timezone.utc).date(), time.min, tzinfo=dt_timezone.utc)
        today = [c for c in self.plan.conversations if c.created_at >= midnight]
        elapsed = (now - midnight).total_seconds()
        if len(today) < 2 and elapsed > 60 * 60:
            for share in (0.3, 0.55)[len(today):]:
                start = midnight + timedelta(seconds=elapsed * share)
                visitor = self.new_visitor(start - timedelta(minutes=3))
                cart = self.new_cart(visitor, start - timedelta(minutes=2), lines=1)
                end = self.conversation(visitor, cart, start, "product_question", converted=False, missed=False,
                                        proactive=False, staffed=start.hour in STAFFED_HOURS)
                visitor.last_seen_at = min(end + timedelta(seconds=30), now)
                self.pages(cart, now)


# --- writing ------------------------------------------------------------------------------

@contextmanager
def past_times(*models):
    """Let bulk_create keep the times planned for these rows: auto_now(_add) fields would stamp them with the clock.

    The flags belong to the models' fields (shared by the whole process) and are restored on exit; seed_demo
    runs in a process of its own. Putting the times back with bulk_update afterwards took longer than
    writing the whole history.
    """
    fields = [f for model in models for f in model._meta.concrete_fields
              if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    try:
        for f in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


STAMPED = (Visitor, Cart, PageView, Conversation, Note, Offer, Order, FollowUp, CallTask)


def _bulk_create(model, objs: list) -> None:
    if objs:
        model.objects.bulk_create(objs, batch_size=500)


def write(site: Site, planner: Planner) -> dict:
    plan = planner.plan
    carts = {}
    for sim in planner.carts:
        carts[id(sim)] = sim.model(site)
        plan.carts.append(carts[id(sim)])
        plan.cart_events += sim.events
    for rows in (plan.conversations, plan.orders, plan.followups, plan.call_tasks):
        for row in rows:
            row.cart = carts[id(row.sim_cart)]
    with past_times(*STAMPED):
        _write_rows(plan)
    # Attribution by the product's own rule (last touch, offer revenue), order by order as they arrived.
    for order in sorted(plan.orders, key=lambda o: o.created_at):
        attribute_order(order)
    # attribute_order stamps attributed_at with the clock; these orders were attributed when they arrived.
    Order.objects.filter(pk__in=[o.pk for o in plan.orders], conversation__isnull=False).update(
        attributed_at=F("received_at"))
    return {
        "visitors": len(plan.visitors), "carts": len(plan.carts), "conversations": len(plan.conversations),
        "messages": len(plan.messages), "offers": len(plan.offers), "orders": len(plan.orders),
        "intervention_assignments": len(plan.iv_assignments), "followups": len(plan.followups),
        "call_tasks": len(plan.call_tasks), "left_messages": len(plan.left_messages),
    }


def _write_rows(plan: Plan) -> None:
    """Parents before children: bulk_create gives each row its key, which the rows pointing at it then take."""
    _bulk_create(Visitor, plan.visitors)
    _bulk_create(Cart, plan.carts)
    _bulk_create(CartEvent, plan.cart_events)
    _bulk_create(PageView, plan.page_views)
    _bulk_create(Conversation, plan.conversations)
    _bulk_create(Message, plan.messages)
    _bulk_create(Note, plan.notes)
    _bulk_create(Assignment, plan.assignments)
    _bulk_create(Offer, plan.offers)
    _bulk_create(InterventionAssignment, plan.iv_assignments)
    _bulk_create(InterventionEvent, plan.iv_events)
    _bulk_create(Order, plan.orders)
    _bulk_create(OrderLine, plan.order_lines)
    _bulk_create(FollowUp, plan.followups)
    _bulk_create(CallTask, plan.call_tasks)
    for left in plan.left_messages:
        left.conversation = (Conversation.objects.filter(visitor=left.visitor).order_by("-created_at").first())
    _bulk_create(LeftMessage, plan.left_messages)


def history_carts(site: Site):
    return Cart.objects.filter(site=site, cart_token__startswith=CART_PREFIX)


def has_history(site: Site) -> bool:
    return history_carts(site).exists()


def clear_history(site: Site) -> int:
    """Delete the demo history of `site` (and only it): its orders, carts, and the shoppers who own them."""
    with transaction.atomic():
        visitor_ids = list(history_carts(site).exclude(visitor=None).values_list("visitor_id", flat=True).distinct())
        # all_objects: an order cancelled in the demo since is still the history's, and its id comes back.
        deleted = Order.all_objects.filter(site=site, order_id__startswith=ORDER_PREFIX).delete()[0]
        deleted += history_carts(site).delete()[0]
        for i in range(0, len(visitor_ids), 500):
            deleted += Visitor.objects.filter(site=site, pk__in=visitor_ids[i:i + 500]).delete()[0]
    return deleted


def build_history(site: Site, agents: list, now: datetime | None = None, seed: int = SEED, days: int = DAYS) -> dict:
    """Write `days` days of history up to `now` for `site`, answered by `agents`; returns counts of what was written."""
    if not agents:
        raise ValueError("the history needs at least one agent")
    planner = Planner(site, list(agents), now or timezone.now(), seed, days)
    planner.build()
    with transaction.atomic():
        return write(site, planner)


def rebuild_history(site: Site, agents: list, now: datetime | None = None, seed: int = SEED) -> dict:
    """Replace the demo history with a fresh one ending `now`: running it twice leaves one history, not two."""
    with transaction.atomic():
        clear_history(site)
        return build_history(site, agents, now, seed)
