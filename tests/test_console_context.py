"""The console's context rules: journey through checkout, pages, plain-language signals (no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from agents.context import format_ago, format_duration, format_money, journey, pages_visited, signals
from chatdesk.models import Cart, CartEvent, PageView

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def step(minutes, to, frm=None):
    return CartEvent(kind=CartEvent.STEP_CHANGED, data={"from": frm, "to": to}, created_at=at(minutes))


def event(minutes, kind, **data):
    return CartEvent(kind=kind, data=data, created_at=at(minutes))


def page(minutes, url, title="", checkout_step=""):
    return PageView(url=url, title=title, checkout_step=checkout_step, created_at=at(minutes))


def cart(**kw):
    defaults = {"currency": "USD", "items": [{"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 1,
                                               "unit_price": "19.99"}],
                "checkout_step": "shipping", "created_at": at(0), "last_activity_at": at(0)}
    defaults.update(kw)
    return Cart(**defaults)


def texts(found):
    return [s["text"] for s in found]


def test_journey_times_each_step_until_the_next_and_the_current_one_until_now():
    steps = journey(at(0), [step(2, "contact", "cart"), step(5, "shipping", "contact")], [], now=at(8))
    assert [(s["step"], s["seconds"], s["current"]) for s in steps] == [
        ("cart", 120, False), ("contact", 180, False), ("shipping", 180, True)]
    assert steps[0]["entered_at"] == "2025-03-01T12:00:00Z" and steps[0]["left_at"] == "2025-03-01T12:02:00Z"
    assert steps[-1]["left_at"] is None


def test_a_cart_with_no_step_changes_has_been_at_cart_since_it_was_made():
    assert [(s["step"], s["seconds"]) for s in journey(at(0), [], [], now=at(3))] == [("cart", 180)]


def test_a_cart_created_at_a_later_step_starts_there():
    steps = journey(at(0), [step(0, "shipping", None)], [], now=at(1))
    assert [(s["step"], s["seconds"]) for s in steps] == [("shipping", 60)]


def test_page_views_and_cart_events_of_the_same_move_count_once():
    steps = journey(
        at(0),
        [step(2, "contact", "cart"), step(4, "shipping", "contact")],
        [page(2.01, "/checkout/contact", checkout_step="contact"), page(4.02, "/checkout/shipping", checkout_step="shipping")],
        now=at(5),
    )
    assert [s["step"] for s in steps] == ["cart", "contact", "shipping"]
    assert [s["seconds"] for s in steps] == [120, 120, 60]


def test_page_views_alone_give_a_journey_when_the_cart_frames_did_not_carry_steps():
    steps = journey(None, [], [page(0, "/checkout", checkout_step="contact"), page(1, "/pay", checkout_step="payment")],
                    now=at(3))
    assert [(s["step"], s["seconds"]) for s in steps] == [("contact", 60), ("payment", 120)]


def test_going_back_is_marked_with_where_the_shopper_came_from():
    steps = journey(at(0), [step(1, "payment", "cart"), step(3, "cart", "payment")], [], now=at(4))
    assert [(s["step"], s["went_back"], s["from"]) for s in steps] == [
        ("cart", False, None), ("payment", False, "cart"), ("cart", True, "payment")]


def test_shipping_shown_then_nothing_reads_idle_since():
    c = cart(shipping=Decimal("7.50"), last_activity_at=at(0))
    history = [event(0, CartEvent.SHIPPING_SHOWN, shipping="7.50")]
    steps = journey(at(0), [], [], now=at(3))
    found = signals(c, history, [], steps, now=at(3))
    assert texts(found) == ["Shipping cost $7.50 shown 3 min ago, idle since"]
    assert found[0]["code"] == "shipping_shown" and found[0]["template"] == "Shipping cost $7.50 shown {ago}, idle since"
    assert found[0]["at"] == "2025-03-01T12:00:00Z"


def test_shipping_shown_and_the_shopper_still_active_is_not_called_idle():
    c = cart(last_activity_at=at(2.5))
    history = [event(0, CartEvent.SHIPPING_SHOWN, shipping="7.50"), event(2.5, CartEvent.ITEM_ADDED, sku="CAP-1")]
    found = signals(c, history, [], journey(at(0), [], [], at(3)), now=at(3))
    assert texts(found) == ["Shipping cost $7.50 shown 3 min ago"]


def test_went_back_from_payment_to_cart_is_a_signal():
    c = cart(checkout_step="cart", last_activity_at=at(3))
    history = [step(1, "payment", "cart"), step(3, "cart", "payment")]
    steps = journey(at(0), history, [], now=at(3.5))
    assert "Went back from payment to cart just now" in texts(signals(c, history, [], steps, now=at(3.5)))


def test_idle_at_a_step_when_nothing_happened_for_two_minutes():
    c = cart(checkout_step="payment", last_activity_at=at(1))
    history = [step(1, "payment", "cart")]
    steps = journey(at(0), history, [], now=at(6))
    assert texts(signals(c, history, [], steps, now=at(6))) == ["Idle at payment since 5 min ago"]


def test_a_long_time_at_one_step_while_active_is_told_as_information():
    c = cart(checkout_step="payment", last_activity_at=at(6.5))
    history = [step(1, "payment", "cart")]
    views = [page(6.5, "/checkout/payment", checkout_step="payment")]
    steps = journey(at(0), history, views, now=at(7))
    found = signals(c, history, views, steps, now=at(7))
    assert [(s["code"], s["text"], s["tone"]) for s in found] == [("long_at_step", "At payment since 6 min ago", "info")]


def test_removing_items_lowering_quantities_and_discounts_are_told_in_plain_words():
    c = cart(last_activity_at=at(3))
    history = [
        event(1, CartEvent.ITEM_REMOVED, sku="HOODIE-1", name="Fleece hoodie"),
        event(2, CartEvent.QUANTITY_CHANGED, sku="TEE-1", **{"from": 3, "to": 1}),
        event(2.5, CartEvent.QUANTITY_CHANGED, sku="TEE-1", **{"from": 1, "to": 2}),
        event(3, CartEvent.DISCOUNT_APPLIED, discount="5.00"),
    ]
    found = signals(c, history, [], journey(at(0), [], [], at(3.5)), now=at(3.5))
    assert texts(found) == [
        "Discount of $5.00 applied just now",
        "Lowered Organic cotton tee from 3 to 1 1 min ago",
        "Removed Fleece hoodie from the cart 2 min ago",
    ]
    assert found[0]["tone"] == "positive"


def test_reaching_payment_again_and_again_is_a_signal():
    history = [step(1, "payment", "cart"), step(2, "shipping", "payment"), step(3, "payment", "shipping")]
    c = cart(checkout_step="payment", last_activity_at=at(3))
    steps = journey(at(0), history, [], now=at(3.5))
    assert "Reached payment 2 times (last just now)" in texts(signals(c, history, [], steps, now=at(3.5)))


def test_reading_the_returns_or_shipping_page_is_a_signal_once_per_topic():
    views = [page(1, "https://shop.example/pages/returns", "Returns & refunds"),
             page(2, "https://shop.example/pages/returns", "Returns & refunds"),
             page(3, "https://shop.example/shipping-info", "Delivery times")]
    c = cart(last_activity_at=at(3))
    found = signals(c, [], views, [], now=at(4))
    assert texts(found) == ["Read shipping information 1 min ago", "Read the returns policy 2 min ago"]


def test_the_checkout_steps_own_pages_are_not_reading_about_policies():
    views = [page(1, "https://shop.example/demo/#/checkout/shipping", "Checkout: shipping", "shipping"),
             page(2, "https://shop.example/checkout/contact", "Contact details"),
             page(3, "https://shop.example/pages/contact-us", "Contact us")]
    assert texts(signals(cart(last_activity_at=at(3)), [], views, [], now=at(4))) == ["Read the help pages 1 min ago"]


def test_no_history_means_no_signals():
    assert signals(None, [], [], [], now=at(0)) == []


def test_pages_visited_latest_first_with_time_on_each():
    views = [page(0, "/demo/", "Demo store"), page(2, "/demo/#checkout", "", "contact")]
    assert pages_visited(views, now=at(5)) == [
        {"url": "/demo/#checkout", "title": "/demo/#checkout", "checkout_step": "contact",
         "at": "2025-03-01T12:02:00Z", "seconds": 180},
        {"url": "/demo/", "title": "Demo store", "checkout_step": None, "at": "2025-03-01T12:00:00Z", "seconds": 120},
    ]


def test_durations_times_ago_and_money_read_naturally():
    assert [format_duration(s) for s in (0, 59, 60, 3599, 3600, 3900, 86400 * 3)] == [
        "0 s", "59 s", "1 min", "59 min", "1 h", "1 h 5 min", "3 days"]
    assert format_ago(at(0), at(0.5)) == "just now" and format_ago(at(0), at(10)) == "10 min ago"
    assert format_money("7.5", "USD") == "$7.50" and format_money(Decimal("3"), "SEK") == "3.00 SEK"
