"""SMS: the Twilio adapter against a local fake of its API, and inbound opt-out words honoured."""
from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from huey.contrib.djhuey import HUEY

from chatdesk.actions import followups
from chatdesk.models import CallTask, ContactOptOut, FollowUp
from chatdesk.sms import LoggingBackend, SmsError, TwilioBackend, is_stop_word, twilio_signature

from .followup_helpers import abandoned_cart, step

SID, TOKEN = "AC" + "0" * 32, "test-auth-token"


class FakeTwilio:
    """A loopback HTTP server answering like Twilio's Messages API, keeping every request it got."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (201, {"sid": "SM" + "a" * 32, "status": "queued"})
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append({
                    "path": self.path, "auth": self.headers.get("Authorization", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "form": dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())),
                })
                status, body = fake.reply
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def immediate_huey():
    LoggingBackend.outbox.clear()
    HUEY.immediate = True
    yield
    HUEY.immediate = False


def test_twilio_adapter_posts_the_form_with_basic_auth(twilio):
    backend = TwilioBackend(account_sid=SID, auth_token=TOKEN, from_number="+15005550006", api_base=twilio.url)
    assert backend.send("+14155550100", "Your cart is waiting") == "SM" + "a" * 32
    (req,) = twilio.requests
    assert req["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert req["content_type"] == "application/x-www-form-urlencoded"
    assert req["form"] == {"To": "+14155550100", "From": "+15005550006", "Body": "Your cart is waiting"}


def test_twilio_adapter_prefers_a_messaging_service(twilio):
    backend = TwilioBackend(account_sid=SID, auth_token=TOKEN, from_number="", messaging_service_sid="MG123",
                            api_base=twilio.url)
    backend.send("+14155550100", "hi")
    assert twilio.requests[0]["form"] == {"To": "+14155550100", "MessagingServiceSid": "MG123", "Body": "hi"}


def test_twilio_refusal_becomes_an_sms_error_with_twilios_code(twilio):
    twilio.reply = (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400})
    backend = TwilioBackend(account_sid=SID, auth_token=TOKEN, from_number="+15005550006", api_base=twilio.url)
    with pytest.raises(SmsError) as err:
        backend.send("123", "hi")
    assert err.value.code == "21211" and "not a valid phone number" in str(err.value)


def test_twilio_unreachable_is_an_sms_error():
    backend = TwilioBackend(account_sid=SID, auth_token=TOKEN, from_number="+1", api_base="http://127.0.0.1:9",
                            timeout=2)
    with pytest.raises(SmsError):
        backend.send("+14155550100", "hi")


def test_an_sms_follow_up_goes_through_twilio_once(site, twilio):
    step(site, "sms")
    cart = abandoned_cart(site, phone="+1 415 555 0100", consent_sms=True)
    with override_settings(CHATDESK_SMS_BACKEND="chatdesk.sms.TwilioBackend", TWILIO_ACCOUNT_SID=SID,
                           TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER="+15005550006", TWILIO_API_BASE=twilio.url,
                           PUBLIC_BASE_URL="https://chat.example.com"):
        for _ in range(2):
            followups.scan_followups()
            for pk in followups.due_pending_ids():
                followups.deliver_followup(pk)
    (req,) = twilio.requests
    assert req["form"]["To"] == "+14155550100"
    assert "3 items" in req["form"]["Body"] and "135.49 USD" in req["form"]["Body"]
    assert "https://chat.example.com/r/" in req["form"]["Body"] and "Reply STOP" in req["form"]["Body"]
    fu = FollowUp.objects.get(cart=cart)
    assert (fu.status, fu.provider_id) == ("sent", "SM" + "a" * 32)


@pytest.mark.parametrize("body, stop", [
    ("STOP", True), ("stop", True), (" Unsubscribe ", True), ("cancel.", True), ("END", True), ("quit", True),
    ("STOPALL", True), ("Stop texting me", True), ("yes", False), ("stopping by later", False), ("", False),
])
def test_opt_out_words(body, stop):
    assert is_stop_word(body) is stop


def _inbound(client, site_key, form, token=TOKEN, signature=None, base="https://chat.example.com"):
    path = f"/hooks/sms/twilio/{site_key}/"
    sig = signature if signature is not None else twilio_signature(token, base + path, form)
    return client.post(path, form, HTTP_X_TWILIO_SIGNATURE=sig)


@override_settings(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL="https://chat.example.com")
def test_inbound_stop_opts_the_phone_out_of_texts_and_calls(site, client):
    step(site, "sms")
    step(site, "call")
    cart = abandoned_cart(site, phone="(415) 555-0100", consent_sms=True)
    response = _inbound(client, site.key, {"From": "+14155550100", "To": "+15005550006", "Body": "STOP",
                                           "MessageSid": "SM1"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert ContactOptOut.objects.filter(channel="sms", address="+14155550100", source="sms_stop").exists()
    followups.scan_followups()
    for pk in followups.due_pending_ids():
        followups.deliver_followup(pk)
    assert LoggingBackend.outbox == [] and not CallTask.objects.exists()
    assert set(FollowUp.objects.filter(cart=cart).values_list("skip_reason", flat=True)) == {"opted_out"}


@override_settings(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL="https://chat.example.com")
def test_inbound_with_a_bad_signature_is_refused_and_stores_nothing(site, client):
    form = {"From": "+14155550100", "Body": "STOP"}
    assert _inbound(client, site.key, form, signature="bogus").status_code == 401
    assert _inbound(client, site.key, form, token="another-token").status_code == 401
    assert _inbound(client, site.key, form, signature="").status_code == 401
    assert not ContactOptOut.objects.exists()


@override_settings(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL="https://chat.example.com")
def test_an_ordinary_reply_is_not_an_opt_out(site, client):
    assert _inbound(client, site.key, {"From": "+14155550100", "Body": "Is the hoodie warm?"}).status_code == 200
    assert not ContactOptOut.objects.exists()


@override_settings(TWILIO_AUTH_TOKEN="", DEBUG=False)
def test_without_a_twilio_token_production_refuses_inbound(site, client):
    assert client.post(f"/hooks/sms/twilio/{site.key}/", {"From": "+14155550100", "Body": "STOP"}).status_code == 403
    assert not ContactOptOut.objects.exists()
