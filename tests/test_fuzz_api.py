"""Fuzz every body the store API and the webhooks take, with Hypothesis.

Bodies are drawn near valid (a valid body with one field changed to a wrong
type, value or size, removed, or joined by an unknown key) and as anything
at all (any JSON, raw bytes, deep nesting). Webhooks are signed with the
site's secret, so that their body parser is what gets fuzzed. Whatever comes
in: never a 500; a refusal is a 4xx whose JSON names the problem (the field
a near-valid body changed, where the refusal is about a field) and stores no
row of any model; an accepted body is stored.

`CHATDESK_API_FUZZ_EXAMPLES` (default 100 per test) searches deeper.
"""
from __future__ import annotations

import copy
import json
import os
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from django.test import Client
from hypothesis import strategies as st

from chatdesk.actions.orders import record_order
from chatdesk.models import Cart, Order, Visitor
from chatdesk.webhooks.signing import sign

from .conftest import make_site
from .fuzzing import JSON, NASTY_TEXT, check_property, diff_counts, row_counts

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("CHATDESK_API_FUZZ_EXAMPLES", "100"))
FIXTURES = Path(__file__).parent / "fixtures"
KEY = "key-demo-store"
SECRET = "secret-demo-store"
KEEP, REPLACE, DELETE, EXTRA, EXTREME = "keep", "replace", "delete", "extra", "extreme"


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # The fuzzer sends hundreds of requests a second with one key; the limit has its own tests.
    settings.CHATDESK_API_RATE = "off"


# --- values ---------------------------------------------------------------------------------------

# Text a real store sends: any character but NUL and lone surrogates (which PostgreSQL cannot store).
PLAIN = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def plain(min_size=0, max_size=30):
    return st.text(PLAIN, min_size=min_size, max_size=max_size)


def word(min_size=1, max_size=24):
    """Text with something besides whitespace in it (DRF trims strings before measuring them)."""
    return plain(min_size, max_size).filter(lambda s: s.strip())


def money(max_value="99999.99"):
    amount = st.decimals(min_value=0, max_value=Decimal(max_value), places=2, allow_nan=False, allow_infinity=False)
    return amount.map(lambda d: f"{d.copy_abs():.2f}")


EMAIL = st.from_regex(r"\A[a-z][a-z0-9.]{0,10}[a-z0-9]@[a-z]{1,10}\.(com|org|de)\Z")
PAST = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 1, 1),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-4)), timezone(timedelta(hours=5, minutes=30))]))
CURRENCY = st.sampled_from(["USD", "EUR", "CAD", "JPY", "GBP", "INR"])

# What a mutation puts in place of a valid value: wrong types, wrong sizes, values just out of range.
EDGE_VALUES = [
    10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, 1.5, -1, 0, -0.0, 10000, 10001, True, None,
    "", " ", "\x00", "a\x00b", "\ud800", "x" * 101, "x" * 201, "x" * 301, "x" * 1001, "x" * 70000,
    "-1.00", "-0.01", "1e3", "NaN", "Infinity", "0x10", "1,000.00", " 5 ", "9999999999.99", "99999999999.99",
    "0.001", "\uff11\uff12", "\u0663.\u0665\u0660",
    "usd", "US", "USDD", "XXX", "ZZZ", "\u20ac",
    "2999-01-01T00:00:00Z", "yesterday", "2025-05-01T12:00:00", "2025-02-30T00:00:00Z",
    "0001-01-01T00:00:00+14:00", "2025-05-01T12:00:00+25:00", "9999-12-31T23:59:59-14:00",
    str(uuid.UUID(int=1)), "{12345678-1234-5678-1234-567812345678}",
    [], {}, [None], [{}], ["x"] * 300, {"": None},
]


def nested(depth: int):
    value = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


WRONG = st.one_of(
    st.sampled_from(EDGE_VALUES),
    NASTY_TEXT,
    JSON,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.integers(1, 400).map(nested),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),
)


MONEY_LIKE = re.compile(r"^\d+(\.\d+)?$")
TIME_LIKE = re.compile(r"^\d{4}-\d\d-\d\dT")
# Valid-looking values at (and just past) the edges of what ChatDesk stores.
MONEY_EDGES = ["9999999999.99", "99999999999.99", "10000000000", "-1.00", "-0.01", "1e3", "NaN", "Infinity", "0.001",
               "1,000.00", " 5 ", "0x10", "\uff11\uff12", "\u0663.\u0665\u0660", "5.", ".5", "+5"]
TIME_EDGES = ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2999-01-01T00:00:00Z",
              "9999-12-31T23:59:59-14:00", "2025-02-30T00:00:00Z", "2025-05-01T12:00:00+25:00", "2025-05-01T12:00:00",
              "2025-05-01", "2025-05-01T12:00:00.123456789Z", "yesterday"]
CURRENCY_EDGES = ["usd", "US", "USDD", "XXX", "ZZZ", "XAU", "\u20ac", ""]
INT_EDGES = [0, -1, 10000, 10001, 2**31, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30]


def near(value) -> st.SearchStrategy:
    """Values close to a valid one: its type's edges, the same thing in another type, much bigger, NUL inside."""
    if isinstance(value, bool):
        options = [1, "true", None, not value]
    elif isinstance(value, int):
        options = INT_EDGES + [str(value), value + 0.5, -value, [value]]
    elif isinstance(value, float):
        options = [str(value), int(value), -value, value * 1e12, 1e308]
    elif isinstance(value, str):
        options = [value * 60, value + "\x00", f" {value} ", value.upper(), [value], {"value": value}]
        if MONEY_LIKE.match(value):
            options += MONEY_EDGES + ["-" + value, float(value)]
        elif TIME_LIKE.match(value):
            options += TIME_EDGES
        elif len(value) == 3 and value.isupper():
            options += CURRENCY_EDGES
    elif isinstance(value, list):
        options = [value * 70, value[:1] * 600, {"0": value}, json.dumps(value)]
    elif isinstance(value, dict):
        options = [[value], json.dumps(value)]
    else:
        options = [0, "", {}, []]
    return st.sampled_from(options)


# --- one mutation of a valid body ---------------------------------------------------------------

def walk(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, path + (i,))


def field_name(path) -> str:
    """('items', 0, 'quantity') as 'items[0].quantity', the way errors name fields."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def at(body, path):
    for part in path:
        body = body[part]
    return body


@st.composite
def mutated(draw, base: st.SearchStrategy, focus=()):
    """(body, kind, field): a valid body with one thing changed; `focus` lists the top keys ChatDesk reads."""
    body = copy.deepcopy(draw(base))
    kind = draw(st.sampled_from([KEEP, REPLACE, REPLACE, REPLACE, DELETE, EXTRA, EXTREME]))
    if kind == KEEP:
        return body, kind, None
    if kind == EXTREME:
        return extreme(draw, body), kind, None
    if kind == EXTRA:
        objects = [p for p in walk(body) if isinstance(at(body, p), dict)]
        path = draw(st.sampled_from(objects))
        key = "zz_" + draw(st.text(max_size=8))
        at(body, path)[key] = draw(WRONG)
        return body, kind, field_name(path + (key,))
    paths = [p for p in walk(body) if p]
    if not paths:
        return body, KEEP, None
    read = [p for p in paths if p[0] in focus]
    path = draw(st.sampled_from(read) if read and draw(st.booleans()) else st.sampled_from(paths))
    parent, last = at(body, path[:-1]), path[-1]
    if kind == DELETE:
        del parent[last]
    else:
        parent[last] = draw(st.one_of(WRONG, near(parent[last])))
    return body, kind, field_name(path)


def extreme(draw, body):
    """Every amount at the largest ChatDesk stores, every quantity at its bound, times at the ends of the
    calendar: each value valid alone, together possibly too much (sums, conversions to UTC)."""
    when = draw(st.sampled_from(["0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]))
    for path in [p for p in walk(body) if p]:
        parent, last, value = at(body, path[:-1]), path[-1], at(body, path)
        if isinstance(value, str) and MONEY_LIKE.match(value):
            parent[last] = "9999999999.99"
        elif isinstance(value, str) and TIME_LIKE.match(value):
            parent[last] = when
        elif last == "quantity" and isinstance(value, int):
            parent[last] = 10000
    return body


def encode(body) -> bytes:
    # ensure_ascii writes lone surrogates as \ud800 escapes, as a buggy client would.
    return json.dumps(body).encode()


def parses(raw: bytes) -> bool:
    """True if the bytes are one strict JSON document (what every ChatDesk door can read)."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


# --- the properties -------------------------------------------------------------------------------

# A cart without a `total` gets one from these; when it cannot (out of range), the refusal names
# `total`, the field the client must then give (test_store_api.py pins that answer).
TOTAL_FROM = ("subtotal", "shipping", "tax", "discount")


def related(error_field: str, changed: str) -> bool:
    """The error names the changed field, a field inside it, the object holding it, or the total it sums into."""
    a, b = error_field, changed
    if a == "total" and b in TOTAL_FROM:
        return True
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def assert_refusal_is_sound(response, raw: bytes, before: dict, after: dict, changed: str | None = None):
    what = raw[:300]
    assert 400 <= response.status_code < 500, f"{response.status_code} for {what!r}: {response.content[:300]!r}"
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"].strip(), body
    errors = body.get("errors")
    if errors is not None:
        assert isinstance(errors, dict) and errors, body
        for name, messages in errors.items():
            assert isinstance(name, str) and name and isinstance(messages, list) and messages, body
            assert all(isinstance(m, str) and m.strip() for m in messages), body
    if changed is not None and response.status_code == 400 and parses(raw):
        assert errors and any(related(name, changed) for name in errors), (
            f"changing {changed!r} was refused without naming it: {body}")
    assert diff_counts(before, after) == {}, f"refused {what!r} but stored {diff_counts(before, after)}"


class Counted:
    """Row counts of every model before and after each request: the previous 'after' is the next 'before'."""

    def __init__(self):
        self.last = row_counts()

    def step(self) -> tuple[dict, dict]:
        before, self.last = self.last, row_counts()
        return before, self.last


RECORDED = ("1001", "6021458836001", "5130")  # orders the world holds: the API's, Shopify's and WooCommerce's ids


def world():
    site = make_site()
    other = make_site("other-store")
    mine = Visitor.objects.create(site=site)
    theirs = Visitor.objects.create(site=other)
    for order_id in RECORDED:
        record_order(site, {"order_id": order_id, "currency": "USD", "total": Decimal("10.00"), "items": [],
                            "created_at": datetime(2025, 1, 1, tzinfo=timezone.utc)}, "api")
    return site, str(mine.public_id), str(theirs.public_id)


# --- store API ------------------------------------------------------------------------------------

def api_item():
    return st.fixed_dictionaries(
        {"sku": word(1, 24), "quantity": st.integers(1, 100), "unit_price": money()},
        optional={"name": plain(0, 40), "image_url": plain(0, 40), "url": plain(0, 40)},
    )


def without_negative_total(body: dict) -> dict:
    """A total left to ChatDesk must not come out negative: cap the discount at what it is taken from."""
    if "total" in body or "discount" not in body:
        return body
    items = sum(Decimal(i["unit_price"]) * i["quantity"] for i in body.get("items", []))
    rest = Decimal(body.get("subtotal", items)) + sum(Decimal(body.get(k, "0")) for k in ("shipping", "tax"))
    return {**body, "discount": f"{min(Decimal(body['discount']), rest):.2f}"}


def cart_body(visitor_id: str):
    return st.fixed_dictionaries({}, optional={
        "visitor_id": st.sampled_from([visitor_id, None]),
        "currency": CURRENCY,
        "items": st.lists(api_item(), max_size=5),
        "subtotal": money(), "shipping": money(), "tax": money(), "discount": money(), "total": money(),
        "checkout_step": st.sampled_from(["cart", "contact", "shipping", "payment", "review", "complete"]),
        "email": EMAIL, "phone": plain(0, 20).map(str.strip), "consent_email": st.booleans(),
        "consent_sms": st.booleans(), "recovery_url": st.sampled_from(["https://shop.example/r/1", ""]),
    }).map(without_negative_total)


CART_TOKEN = word(1, 40).filter(lambda s: "/" not in s and s not in (".", ".."))


@st.composite
def cart_request(draw, visitor_id: str):
    """(URL token, body, kind, changed field); a mutation may hit the token in the URL too."""
    token = draw(CART_TOKEN)
    base = cart_body(visitor_id)
    if draw(st.booleans()):
        base = base.map(lambda b: dict(b, cart_token=token))
    body, kind, changed = draw(mutated(base, focus=("items", "currency", "total", "visitor_id", "email")))
    if kind == KEEP and draw(st.integers(0, 5)) == 0:
        token = draw(st.one_of(st.sampled_from(["x" * 201, "a\x00b", "\x00", " "]), NASTY_TEXT))
        token = token.replace("/", "") or "x" * 201
        kind, changed = REPLACE, "cart_token"
    return token, body, kind, changed


def api(method: str, path: str, raw: bytes, key: str = KEY, content_type: str = "application/json"):
    return getattr(Client(), method)(path, data=raw, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def assert_cart_stored(response, token: str, body: dict):
    cart = Cart.objects.filter(site__key="demo-store", cart_token=token).first()
    assert cart is not None, f"accepted but no cart {token!r}"
    out = response.json()
    assert out["cart_token"] == token and Decimal(out["total"]) == cart.total
    if isinstance(body.get("total"), str):
        assert cart.total == Decimal(body["total"])
    assert cart.snapshots.exists()


def test_fuzzed_cart_bodies_are_stored_or_refused_cleanly():
    site, mine, theirs = world()
    counts = Counted()

    def check(request):
        token, body, kind, changed = request
        raw = encode(body)
        response = api("put", f"/api/v1/carts/{quote(token, safe='')}/", raw)
        before, after = counts.step()
        if response.status_code in (200, 201):
            assert_cart_stored(response, token, body)
        else:
            assert_refusal_is_sound(response, raw, before, after, changed)
        if kind in (KEEP, EXTRA) and parses(raw):
            assert response.status_code in (200, 201), f"valid {kind} body refused: {response.content[:400]!r}"

    check_property(cart_request(mine), check, EXAMPLES)


def order_body(visitor_id: str):
    joins = st.sampled_from([{"cart_token": "c-1"}, {"visitor_id": visitor_id},
                             {"cart_token": "c-2", "visitor_id": visitor_id}])
    required = st.fixed_dictionaries({
        "order_id": word(1, 30), "currency": CURRENCY, "total": money(),
        "items": st.lists(api_item(), max_size=4), "created_at": PAST.map(lambda d: d.isoformat()),
    })
    optional = st.fixed_dictionaries({}, optional={
        "discount_codes": st.lists(word(1, 20), max_size=3), "email": EMAIL,
    })
    return st.tuples(required, joins, optional).map(lambda parts: {**parts[0], **parts[1], **parts[2]})


def assert_order_stored(response, body: dict):
    out = response.json()
    # Loading every field matters: a time PostgreSQL stored may be one Python cannot read back.
    order = Order.all_objects.filter(site__key="demo-store", order_id=out["order_id"]).first()
    assert order is not None and order.order_id == body["order_id"].strip(), out
    assert order.total == Decimal(out["total"]) == Decimal(body["total"])
    assert order.lines.count() == len(out["lines"])


def test_fuzzed_order_bodies_are_stored_or_refused_cleanly():
    site, mine, theirs = world()
    counts = Counted()
    strategy = mutated(order_body(mine), focus=("order_id", "cart_token", "visitor_id", "currency", "total", "items",
                                                "created_at", "discount_codes", "email"))

    def check(request):
        body, kind, changed = request
        raw = encode(body)
        response = api("post", "/api/v1/orders/", raw)
        before, after = counts.step()
        if response.status_code in (200, 201):
            assert_order_stored(response, body)
        else:
            assert_refusal_is_sound(response, raw, before, after, changed)
        if kind in (KEEP, EXTRA) and parses(raw):
            assert response.status_code in (200, 201), f"valid {kind} body refused: {response.content[:400]!r}"

    check_property(strategy, check, EXAMPLES)


def cancel_body():
    return st.fixed_dictionaries({}, optional={
        "reason": st.sampled_from(["cancelled", "refunded"]),
        "cancelled_at": PAST.map(lambda d: d.isoformat()),
    })


@st.composite
def cancel_request(draw):
    """(order id in the URL, body, kind, changed field)."""
    order_id = draw(st.one_of(st.sampled_from(RECORDED), word(1, 30).filter(lambda s: "/" not in s)))
    body, kind, changed = draw(mutated(cancel_body(), focus=("reason", "cancelled_at")))
    if kind == KEEP and draw(st.integers(0, 4)) == 0:
        order_id = draw(st.one_of(st.sampled_from(["x" * 101, "x" * 1000, "a\x00b", "\x00", " "]), NASTY_TEXT))
        order_id = order_id.replace("/", "") or "x" * 101
        kind, changed = REPLACE, "order_id"
    return order_id, body, kind, changed


def test_fuzzed_cancellations_are_stored_or_refused_cleanly():
    world()
    counts = Counted()

    def check(request):
        order_id, body, kind, changed = request
        raw = encode(body)
        response = api("post", f"/api/v1/orders/{quote(order_id, safe='')}/cancel/", raw)
        before, after = counts.step()
        if response.status_code == 200:
            out = response.json()
            order = Order.all_objects.get(site__key="demo-store", order_id=out["order_id"])
            assert order.cancelled_at is not None and order.cancel_reason == out["reason"], out
        else:
            assert_refusal_is_sound(response, raw, before, after, changed)
        if kind in (KEEP, EXTRA) and parses(raw) and order_id in RECORDED:
            assert response.status_code == 200, f"valid {kind} body refused: {response.content[:400]!r}"

    check_property(cancel_request(), check, EXAMPLES)


# Anything at all: any JSON, JSON-looking text, raw bytes, deep nesting, numbers no parser should trust.
def deep_text(n: int) -> str:
    return '{"items": ' + "[" * n + "]" * n + "}"


ANY_BODY = st.one_of(
    JSON.map(encode),
    st.dictionaries(st.sampled_from(["cart_token", "visitor_id", "currency", "items", "subtotal", "total",
                                     "checkout_step", "email", "order_id", "created_at", "discount_codes",
                                     "consent_email", "recovery_url"]), st.one_of(WRONG, JSON), max_size=8).map(encode),
    st.binary(max_size=200),
    st.integers(2, 200_000).map(lambda n: deep_text(n).encode()),
    st.sampled_from([
        b"", b"{", b"null", b"[]", b'"x"', b"{}", b'{"total": NaN}', b'{"total": Infinity}', b'{"a": 1e999}',
        b'{"items": [{"quantity": ' + b"9" * 5000 + b"}]}", b'{"order_id": "\\ud800"}', b'{"sku": "\xff\xfe"}',
        b'{"currency": "USD", "currency": 5}', b"\xef\xbb\xbf{}", b'{"items": []} trailing',
        ('{"items": [' + ",".join(['{"sku": "A", "quantity": 1, "unit_price": "1.00"}'] * 5000) + "]}").encode(),
    ]),
)


@pytest.mark.parametrize("door", ["cart", "order", "cancel"])
def test_any_bytes_to_the_api_are_answered_with_json_and_store_nothing_when_refused(door):
    world()
    counts = Counted()
    path = {"cart": "/api/v1/carts/any-token/", "order": "/api/v1/orders/",
            "cancel": f"/api/v1/orders/{RECORDED[0]}/cancel/"}[door]

    def check(args):
        raw, content_type = args
        response = api("put" if door == "cart" else "post", path, raw, content_type=content_type)
        before, after = counts.step()
        if response.status_code not in (200, 201):
            assert_refusal_is_sound(response, raw, before, after)

    types = st.sampled_from(["application/json", "application/json", "text/plain", "application/x-www-form-urlencoded"])
    check_property(st.tuples(ANY_BODY, types), check, EXAMPLES)


# --- webhooks -------------------------------------------------------------------------------------

def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_bytes())


def shopify_line():
    return st.fixed_dictionaries({
        "sku": st.one_of(word(1, 20), st.just(""), st.none()), "title": plain(0, 40),
        "variant_title": st.one_of(plain(0, 20), st.none()), "quantity": st.integers(1, 50), "price": money(),
        "variant_id": st.integers(1, 2**53),
    })


def shopify_base(name: str, visitor_id: str):
    payload = fixture(name)

    @st.composite
    def build(draw):
        body = copy.deepcopy(payload)
        if draw(st.booleans()):
            body["line_items"] = draw(st.lists(shopify_line(), max_size=4))
        if draw(st.booleans()):
            body["note_attributes"] = [{"name": "chatdesk_visitor_id", "value": visitor_id}]
        if "id" in body:
            body["id"] = draw(st.one_of(st.integers(1, 2**63 - 1), word(1, 20)))
        else:
            body["token"] = draw(word(1, 40))
        return body

    return build()


def woo_line():
    return st.fixed_dictionaries({
        "id": st.integers(1, 10**6), "name": plain(0, 40), "product_id": st.integers(1, 10**6),
        "quantity": st.integers(1, 50), "sku": st.one_of(word(1, 20), st.just("")),
        "price": st.one_of(money(), money().map(float), st.none()), "subtotal": money(),
    })


def woo_base(visitor_id: str):
    paid, pending = fixture("woocommerce-order-created.json"), fixture("woocommerce-order-pending-raw.json")

    @st.composite
    def build(draw):
        body = copy.deepcopy(draw(st.sampled_from([paid, pending])))
        body["status"] = draw(st.sampled_from(["processing", "completed", "on-hold", "pending", "failed",
                                               "checkout-draft", "cancelled", "refunded"]))
        body["id"] = draw(st.one_of(st.integers(1, 10**9), st.sampled_from([int(RECORDED[2])])))
        body["meta_data"] = [{"id": 1, "key": "chatdesk_visitor_id", "value": visitor_id}]
        if draw(st.booleans()):
            body["line_items"] = draw(st.lists(woo_line(), max_size=4))
        return body

    return build()


SHOPIFY_READS = ("token", "cart_token", "currency", "presentment_currency", "line_items", "shipping_lines",
                 "subtotal_price", "total_tax", "total_discounts", "total_price", "email", "phone", "id",
                 "created_at", "processed_at", "discount_codes", "note_attributes", "abandoned_checkout_url",
                 "billing_address", "shipping_address", "checkout_token", "contact_email")
WOO_READS = ("id", "status", "currency", "date_created_gmt", "total", "total_tax", "shipping_total", "discount_total",
             "cart_hash", "meta_data", "line_items", "coupon_lines", "billing")


def deliver(platform: str, topic: str, raw: bytes, delivery: str | None = None):
    delivery = uuid.uuid4().hex if delivery is None else delivery
    if platform == "shopify":
        headers = {"HTTP_X_SHOPIFY_TOPIC": topic, "HTTP_X_SHOPIFY_WEBHOOK_ID": delivery,
                   "HTTP_X_SHOPIFY_HMAC_SHA256": sign(SECRET, raw)}
    else:
        headers = {"HTTP_X_WC_WEBHOOK_TOPIC": topic, "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
                   "HTTP_X_WC_WEBHOOK_SIGNATURE": sign(SECRET, raw)}
    return Client().post(f"/hooks/{platform}/demo-store/", data=raw, content_type="application/json", **headers)


def assert_delivery_stored(response, before: dict, after: dict):
    out = response.json()
    assert isinstance(out, dict) and out.get("detail"), out
    if out.get("cancelled") is True:
        order = Order.all_objects.get(site__key="demo-store", order_id=out["order_id"])
        assert order.cancelled_at is not None, out
    elif "cart_token" in out:
        assert Cart.objects.filter(site__key="demo-store", cart_token=out["cart_token"]).exists(), out
    elif "order_id" in out and not out.get("ignored"):
        assert Order.all_objects.filter(site__key="demo-store", order_id=out["order_id"]).exists(), out
    elif out.get("duplicate") is True:
        assert diff_counts(before, after) == {}, f"a duplicate stored {diff_counts(before, after)}"
    else:
        assert out.get("ignored") is True, out
        assert set(diff_counts(before, after)) <= {"chatdesk.WebhookDelivery"}, diff_counts(before, after)


def fuzz_webhook(platform: str, topic: str, strategy):
    counts = Counted()

    def check(request):
        body, kind, changed = request
        raw = encode(body)
        response = deliver(platform, topic, raw)
        before, after = counts.step()
        if response.status_code == 200:
            assert_delivery_stored(response, before, after)
        else:
            assert_refusal_is_sound(response, raw, before, after, changed)
        if kind in (KEEP, EXTRA) and parses(raw):
            assert response.status_code == 200, f"valid {kind} body refused: {response.content[:400]!r}"

    check_property(strategy, check, EXAMPLES)


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_fuzzed_shopify_checkouts_are_stored_or_refused_cleanly(topic):
    site, mine, theirs = world()
    fuzz_webhook("shopify", topic, mutated(shopify_base("shopify-checkouts-create.json", mine), SHOPIFY_READS))


def test_fuzzed_shopify_orders_are_stored_or_refused_cleanly():
    site, mine, theirs = world()
    fuzz_webhook("shopify", "orders/create", mutated(shopify_base("shopify-orders-create.json", mine), SHOPIFY_READS))


def shopify_cancellation(visitor_id: str):
    """An order the world holds (or not), cancelled, refunded, or just edited."""
    def build(args):
        body, order_id, change = args
        return {**body, "id": order_id, **change}

    changes = st.sampled_from([{"cancelled_at": "2025-03-15T10:00:00-04:00", "cancel_reason": "customer"},
                               {"financial_status": "refunded"}, {"financial_status": "paid"}])
    ids = st.one_of(st.sampled_from(RECORDED), st.sampled_from([int(RECORDED[1])]), st.integers(1, 2**63 - 1))
    return st.tuples(shopify_base("shopify-orders-create.json", visitor_id), ids, changes).map(build)


@pytest.mark.parametrize("topic", ["orders/cancelled", "orders/updated"])
def test_fuzzed_shopify_cancellations_are_stored_or_refused_cleanly(topic):
    site, mine, theirs = world()
    reads = SHOPIFY_READS + ("cancelled_at", "financial_status")
    fuzz_webhook("shopify", topic, mutated(shopify_cancellation(mine), reads))


@pytest.mark.parametrize("topic", ["order.created", "order.updated"])
def test_fuzzed_woocommerce_orders_are_stored_or_refused_cleanly(topic):
    site, mine, theirs = world()
    fuzz_webhook("woocommerce", topic, mutated(woo_base(mine), WOO_READS))


@pytest.mark.parametrize("platform, topic", [("shopify", "checkouts/create"), ("shopify", "orders/create"),
                                             ("woocommerce", "order.created")])
def test_any_signed_bytes_to_a_webhook_are_answered_with_json_and_store_nothing_when_refused(platform, topic):
    world()
    counts = Counted()

    def check(args):
        raw, delivery = args
        response = deliver(platform, topic, raw, delivery)
        before, after = counts.step()
        if response.status_code == 200:
            assert_delivery_stored(response, before, after)
        else:
            assert_refusal_is_sound(response, raw, before, after)

    # Delivery ids are headers: latin-1 text, with NUL and sizes past the stored 200 characters.
    delivery_ids = st.one_of(st.uuids().map(str), st.text(st.characters(max_codepoint=255), max_size=300))
    check_property(st.tuples(ANY_BODY, delivery_ids), check, EXAMPLES)
