"""Text messages: a small backend interface, a logging backend for the demo, and Twilio over its HTTP API.

`get_backend()` returns the backend named by `CHATDESK_SMS_BACKEND`. A
backend has one method, `send(to, body) -> provider message id`, and raises
`SmsError` when the provider refuses or cannot be reached. Inbound opt-out
words are listed here so the webhook and the tests agree on them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

# Twilio's default opt-out keywords (CTIA); the first word of an inbound text decides.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})


class SmsError(Exception):
    """The provider refused the message or could not be reached; `code` is the provider's when it gave one."""

    def __init__(self, detail: str, code: str | None = None):
        super().__init__(detail)
        self.code = code


def normalise_phone(raw: str) -> str:
    """Keep a leading + and the digits: "+1 (415) 555-0100" -> "+14155550100"; "" if nothing usable."""
    raw = (raw or "").strip()
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith("+") or raw.startswith("00")
    if raw.startswith("00"):
        digits = digits[2:]
    if len(digits) < 6:
        return ""
    return ("+" if international else "") + digits


def phone_tail(phone: str) -> str:
    """The last nine digits: enough to match "+1 415 555 0100" with "(415) 555-0100" when honouring opt-outs."""
    return re.sub(r"\D", "", phone or "")[-9:]


def is_stop_word(body: str) -> bool:
    words = re.findall(r"[A-Za-z]+", body or "")
    return bool(words) and words[0].upper() in STOP_WORDS


class BaseSmsBackend:
    def send(self, to: str, body: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class LoggingBackend(BaseSmsBackend):
    """The demo's backend: logs the text and keeps it in `outbox` (like Django's locmem email backend)."""

    outbox: list[dict] = []
    _lock = threading.Lock()

    def send(self, to: str, body: str) -> str:
        message_id = f"log-{uuid.uuid4().hex[:16]}"
        with self._lock:
            LoggingBackend.outbox.append({"to": to, "body": body, "id": message_id})
        log.warning("SMS to %s (%s): %s", to, message_id, body)
        return message_id


class TwilioBackend(BaseSmsBackend):
    """Twilio Programmable Messaging: POST a form to /2010-04-01/Accounts/{sid}/Messages.json with basic auth."""

    def __init__(self, account_sid=None, auth_token=None, from_number=None, messaging_service_sid=None,
                 api_base=None, timeout: float = 10.0):
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.from_number = from_number if from_number is not None else settings.TWILIO_FROM_NUMBER
        self.messaging_service_sid = (
            messaging_service_sid if messaging_service_sid is not None else settings.TWILIO_MESSAGING_SERVICE_SID
        )
        self.api_base = (api_base or settings.TWILIO_API_BASE).rstrip("/")
        self.timeout = timeout
        if not (self.account_sid and self.auth_token and (self.from_number or self.messaging_service_sid)):
            raise SmsError("Twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and a from number or messaging service")

    def send(self, to: str, body: str) -> str:
        form = {"To": to, "Body": body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_number
        url = f"{self.api_base}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), method="POST",
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read() or b"{}")
            except ValueError:
                err = {}
            raise SmsError(f"Twilio refused the message ({exc.code}): {err.get('message', exc.reason)}",
                           str(err.get("code") or exc.code)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SmsError(f"Twilio could not be reached: {exc}") from None
        sid = data.get("sid")
        if not sid:
            raise SmsError("Twilio answered without a message sid")
        if data.get("status") in ("failed", "undelivered"):
            raise SmsError(f"Twilio marked the message {data['status']}", str(data.get("error_code") or ""))
        return sid


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + each POST key and value, keys sorted))."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio_signature(auth_token: str, url: str, params: dict, signature: str) -> bool:
    return bool(signature) and hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


def get_backend() -> BaseSmsBackend:
    return import_string(settings.CHATDESK_SMS_BACKEND)()
