"""Follow-ups of abandoned carts: never without consent, never twice, never after the order or an unsubscribe."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from chatdesk.actions import followups
from chatdesk.models import CallTask, ContactOptOut, FollowUp, Order, Visitor
from chatdesk.sms import LoggingBackend
from chatdesk.tasks.followups import deliver_followup_task, followups_tick

from .followup_helpers import abandoned_cart, step


@pytest.fixture(autouse=True)
def immediate_huey():
    """Huey's immediate mode: an enqueued task runs at once in this process, never into a shared queue."""
    LoggingBackend.outbox.clear()
    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = False
    LoggingBackend.outbox.clear()


def run_scheduler(now=None):
    """One tick of the scheduler: the scan, then each pending delivery, called in place."""
    followups.scan_followups(now)
    for pk in followups.due_pending_ids(now):
        deliver_followup_task.call_local(pk, now)


# --- the email itself -------------------------------------------------------------------

def test_a_due_email_goes_once_with_html_text_cart_lines_and_one_click_unsubscribe(site):
    step(site, "email", delay=60)
    cart = abandoned_cart(site)
    with override_settings(PUBLIC_BASE_URL="https://chat.example.com"):
        run_scheduler()
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["Ann@Example.com"]
    html, mimetype = msg.alternatives[0]
    assert mimetype == "text/html"
    for part in (msg.body, html):
        assert "Fleece hoodie" in part and "Organic cotton tee" in part and "135.49" in part
        assert "108.00" in part and "Shipping" in part and "7.50" in part  # the lines add up to the total
        assert "https://chat.example.com/r/" in part and "https://chat.example.com/u/" in part
    assert "https://chat.example.com/static/shopper_widget/demo/hoodie-1.svg" in html
    assert msg.extra_headers["List-Unsubscribe"].startswith("<https://chat.example.com/u/")
    assert msg.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The headers survive into the MIME message a server would really send.
    raw = msg.message()
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert raw.get_content_type() == "multipart/alternative"
    fu = FollowUp.objects.get(cart=cart)
    assert (fu.status, fu.recipient, fu.channel) == ("sent", "Ann@Example.com", "email")
    assert fu.sent_at is not None and fu.provider_id == msg.extra_headers["Message-ID"]


def test_nothing_is_due_before_the_steps_delay(site):
    step(site, "email", delay=120)
    abandoned_cart(site, minutes_ago=90)
    run_scheduler()
    assert not FollowUp.objects.exists() and mail.outbox == []
    run_scheduler(timezone.now() + timedelta(minutes=31))
    assert len(mail.outbox) == 1


# --- never without consent ----------------------------------------------------------------

def test_never_without_consent(site):
    step(site, "email")
    step(site, "sms")
    step(site, "call")
    cart = abandoned_cart(site, consent_email=False, phone="+1 415 555 0100", consent_sms=False)
    run_scheduler()
    run_scheduler()
    assert mail.outbox == [] and LoggingBackend.outbox == [] and not CallTask.objects.exists()
    assert sorted(FollowUp.objects.filter(cart=cart).values_list("channel", "status", "skip_reason")) == [
        ("call", "skipped", "no_consent"), ("email", "skipped", "no_consent"), ("sms", "skipped", "no_consent")]


def test_consent_given_for_another_address_does_not_count(site):
    step(site, "email")
    cart = abandoned_cart(site, email="cart@example.com", consent_email=False)
    cart.visitor.email, cart.visitor.consent_email = "other@example.com", True
    cart.visitor.save()
    run_scheduler()
    assert mail.outbox == [] and FollowUp.objects.get().skip_reason == "no_consent"


def test_the_visitors_consent_for_the_same_address_counts(site):
    step(site, "email")
    cart = abandoned_cart(site, email="ann@example.com", consent_email=False)
    cart.visitor.email, cart.visitor.consent_email = "ANN@example.com", True
    cart.visitor.save()
    run_scheduler()
    assert len(mail.outbox) == 1


def test_a_cart_without_any_address_gets_no_row_at_all(site):
    step(site, "email")
    abandoned_cart(site, email="")
    run_scheduler()
    assert not FollowUp.objects.exists()


# --- never twice, including across restarts ------------------------------------------------

def test_scanner_twice_and_delivery_re_enqueued_sends_once(site):
    step(site, "email")
    cart = abandoned_cart(site)
    assert len(followups.scan_followups()) == 1
    assert followups.scan_followups() == []          # a second scan (or a second worker) creates nothing
    fu = FollowUp.objects.get(cart=cart)
    for _ in range(3):                                 # the same delivery enqueued three times
        deliver_followup_task.call_local(fu.pk)
    run_scheduler()
    run_scheduler()
    assert len(mail.outbox) == 1
    assert FollowUp.objects.filter(cart=cart).count() == 1


def test_huey_immediate_mode_restarted_scheduler_sends_once(site, immediate_huey):
    step(site, "email")
    step(site, "sms", delay=60)
    abandoned_cart(site, phone="+14155550100", consent_sms=True)
    followups_tick()          # enqueued and run by Huey itself, with each delivery as its own task
    followups_tick()          # "restarted" scheduler: runs again over the same data
    deliver_followup_task(FollowUp.objects.get(channel="email").pk)   # and a stale task replayed
    assert len(mail.outbox) == 1 and len(LoggingBackend.outbox) == 1


def test_a_worker_killed_after_recording_but_before_sending_never_sends_later(site):
    step(site, "email")
    cart = abandoned_cart(site)
    followups.scan_followups()
    # The crash: the row was claimed (committed as `sending`) and the process died before the SMTP call.
    FollowUp.objects.filter(cart=cart).update(status=FollowUp.SENDING, sent_at=timezone.now())
    run_scheduler()
    run_scheduler()
    assert mail.outbox == []
    assert FollowUp.objects.get(cart=cart).status == "sending"


def test_a_failed_send_is_recorded_and_never_retried(site):
    step(site, "sms")
    cart = abandoned_cart(site, phone="+14155550100", consent_sms=True)
    with override_settings(CHATDESK_SMS_BACKEND="tests.test_followups.BrokenSms"):
        run_scheduler()
    fu = FollowUp.objects.get(cart=cart)
    assert (fu.status, fu.sent_at) == ("failed", None) and "provider down" in fu.error
    run_scheduler()
    assert LoggingBackend.outbox == [] and FollowUp.objects.get(cart=cart).status == "failed"


class BrokenSms:
    def send(self, to, body):
        from chatdesk.sms import SmsError

        raise SmsError("provider down")


# --- never after the order ----------------------------------------------------------------

def test_a_cart_that_became_an_order_gets_no_follow_up(site):
    step(site, "email")
    abandoned_cart(site, ordered_at=timezone.now())
    run_scheduler()
    assert mail.outbox == [] and not FollowUp.objects.exists()


def test_an_order_between_scan_and_delivery_skips_the_send(site):
    step(site, "email")
    cart = abandoned_cart(site)
    followups.scan_followups()
    Order.objects.create(site=site, order_id="9001", cart=cart, currency="USD", total=Decimal("135.49"),
                         created_at=timezone.now())
    run_scheduler()
    assert mail.outbox == []
    assert FollowUp.objects.get(cart=cart).skip_reason == "ordered"


def test_an_order_by_the_same_visitor_on_another_cart_skips_the_later_steps(site):
    step(site, "email", delay=60)
    step(site, "email", delay=240)
    cart = abandoned_cart(site, minutes_ago=90)
    run_scheduler()
    assert len(mail.outbox) == 1
    Order.objects.create(site=site, order_id="9002", visitor=cart.visitor, currency="USD", total=Decimal("20.00"),
                         created_at=timezone.now())
    run_scheduler(timezone.now() + timedelta(minutes=200))
    assert len(mail.outbox) == 1
    assert FollowUp.objects.get(step__delay_minutes=240).skip_reason == "ordered"


# --- never after unsubscribing ----------------------------------------------------------------

def test_one_click_unsubscribe_is_honoured_for_every_later_email(site):
    step(site, "email", delay=60)
    step(site, "email", delay=240)
    abandoned_cart(site, token="c-1", minutes_ago=90)
    run_scheduler()
    unsubscribe_url = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    path = unsubscribe_url.split("://", 1)[1].split("/", 1)[1]
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" without any cookie or CSRF token.
    response = Client(enforce_csrf_checks=True).post("/" + path, "List-Unsubscribe=One-Click",
                                                     content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert ContactOptOut.objects.filter(channel="email", address="ann@example.com").exists()
    # The same shopper abandons another cart, with the address typed in another case.
    abandoned_cart(site, token="c-2", email="ANN@example.com", minutes_ago=90)
    run_scheduler(timezone.now() + timedelta(minutes=200))
    assert len(mail.outbox) == 1
    assert set(FollowUp.objects.exclude(status="sent").values_list("skip_reason", flat=True)) == {"opted_out"}


def test_opening_the_unsubscribe_page_does_not_unsubscribe(site, client):
    token = followups.unsubscribe_token(site.id, "email", "ann@example.com")
    page = client.get(f"/u/{token}/")
    assert page.status_code == 200 and b"ann@example.com" in page.content and b"<form" in page.content
    assert not ContactOptOut.objects.exists()
    client.post(f"/u/{token}/")
    client.post(f"/u/{token}/")
    assert ContactOptOut.objects.count() == 1


def test_a_forged_unsubscribe_token_is_refused(site, client):
    token = followups.unsubscribe_token(site.id, "email", "ann@example.com")
    assert client.post(f"/u/{token[:-2]}xx/").status_code == 404
    assert not ContactOptOut.objects.exists()


# --- schedule rules ------------------------------------------------------------------------

def test_min_cart_value_and_disabled_steps(site):
    step(site, "email", min_value="200.00")
    step(site, "sms", enabled=False)
    abandoned_cart(site, phone="+14155550100", consent_sms=True)
    run_scheduler()
    assert not FollowUp.objects.exists()


def test_a_cart_abandoned_too_long_ago_is_not_started(site):
    step(site, "email", delay=60)
    abandoned_cart(site, minutes_ago=60 + 25 * 60)
    run_scheduler()
    assert not FollowUp.objects.exists()


def test_a_call_step_puts_a_task_on_the_call_list_once(site):
    step(site, "call", delay=240, min_value="100.00")
    cart = abandoned_cart(site, phone="(415) 555-0100", consent_sms=True, minutes_ago=250)
    small = abandoned_cart(site, token="small", total="40.00", phone="+14155550199", consent_sms=True, minutes_ago=250)
    run_scheduler()
    run_scheduler()
    task = CallTask.objects.get()
    assert task.cart == cart and task.followup.recipient == "4155550100" and task.followup.status == "sent"
    # Not contacted until an agent reaches the shopper.
    assert task.followup.sent_at is None
    assert not small.followups.exists()


# --- recovery links ---------------------------------------------------------------------

def _sent_email_followup(site, **cart):
    step(site, "email")
    abandoned_cart(site, **cart)
    run_scheduler()
    return FollowUp.objects.get()


def test_the_recovery_link_records_the_click_and_restores_the_cart_in_the_demo_store(site, client):
    fu = _sent_email_followup(site)
    token = followups.recovery_token(fu)
    response = client.get(f"/r/{token}/")
    assert response.status_code == 302 and response["Location"] == f"/demo/?recover={token}"
    first = FollowUp.objects.get(pk=fu.pk).clicked_at
    assert first is not None
    client.get(f"/r/{token}/")
    assert FollowUp.objects.get(pk=fu.pk).clicked_at == first
    data = client.get(f"/r/{token}/cart.json", HTTP_ORIGIN="http://localhost:8000")
    assert data.status_code == 200 and data["Access-Control-Allow-Origin"] == "http://localhost:8000"
    body = data.json()
    assert body["cart"]["cart_token"] == "cart-1" and body["cart"]["total"] == "135.49"
    assert [i["sku"] for i in body["cart"]["items"]] == ["HOODIE-1", "TEE-1"]
    assert body["ordered"] is False and "email" not in str(body).lower()


def test_cart_json_is_not_shared_with_foreign_origins(site, client):
    fu = _sent_email_followup(site)
    data = client.get(f"/r/{followups.recovery_token(fu)}/cart.json", HTTP_ORIGIN="https://evil.example")
    assert data.status_code == 200 and "Access-Control-Allow-Origin" not in data


def test_the_platforms_recovery_url_or_the_sites_template_wins_over_the_demo(site, client):
    fu = _sent_email_followup(site, recovery_url="https://shop.example.com/checkouts/abc/recover")
    token = followups.recovery_token(fu)
    assert client.get(f"/r/{token}/")["Location"] == "https://shop.example.com/checkouts/abc/recover"
    fu.cart.recovery_url = ""
    fu.cart.save()
    site.recovery_url = "https://shop.example.com/cart?restore={token}"
    site.save()
    assert client.get(f"/r/{token}/")["Location"] == f"https://shop.example.com/cart?restore={token}"


def test_a_tampered_or_expired_recovery_link_is_refused(site, client):
    fu = _sent_email_followup(site)
    token = followups.recovery_token(fu)
    assert client.get(f"/r/{token[:-3]}abc/").status_code == 404
    assert client.get(f"/r/{token[:-3]}abc/cart.json").status_code == 404
    with override_settings(CHATDESK_RECOVERY_LINK_DAYS=0):
        import time

        time.sleep(1.1)
        assert client.get(f"/r/{token}/").status_code == 404
    assert FollowUp.objects.get(pk=fu.pk).clicked_at is None


def test_visitor_without_cart_email_uses_the_visitors_address(site):
    step(site, "email")
    cart = abandoned_cart(site, email="", consent_email=False)
    Visitor.objects.filter(pk=cart.visitor_id).update(email="v@example.com", consent_email=True)
    run_scheduler()
    assert mail.outbox[0].to == ["v@example.com"]
