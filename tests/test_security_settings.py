"""Production settings: deploy checks clean, cookies Secure/HttpOnly/SameSite, CSRF on every form, a CSP on every page."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from .conftest import make_agent, make_site

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
}

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("check", deploy=True, fail_level="WARNING")
names = ["DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
         "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SECURE_PROXY_SSL_HEADER", "ALLOWED_HOSTS"]
print("SETTINGS=" + json.dumps({n: getattr(settings, n) for n in names}))
"""


def _run_with(env: dict, code: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")}
    full.update(env, DJANGO_SETTINGS_MODULE="chatdesk.settings")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def test_production_settings_pass_the_deploy_checks_and_harden_cookies():
    result = _run_with(PRODUCTION_ENV, PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.split("SETTINGS=", 1)[1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax" and values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_SECURE"] and values["SECURE_SSL_REDIRECT"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["ALLOWED_HOSTS"] == ["chat.example.com"]


def test_production_refuses_to_start_without_a_secret_key():
    env = dict(PRODUCTION_ENV, DJANGO_SECRET_KEY="")
    result = _run_with(env, "import django; django.setup()")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_signing_in_sets_secure_httponly_samesite_cookies():
    get_user_model().objects.create_user("alice", password="pw-alice-long-enough")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/", secure=True)
    token = page.cookies["csrftoken"].value
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-long-enough",
                                                "csrfmiddlewaretoken": token},
                           secure=True, HTTP_REFERER="https://testserver/accounts/login/")
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


# -- CSRF ------------------------------------------------------------------------------

def _templates():
    dirs = [ROOT / "templates"] + [p for p in ROOT.glob("*/templates") if p.is_dir()]
    for d in dirs:
        yield from d.rglob("*.html")


FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


def test_every_post_form_in_our_templates_carries_a_csrf_token():
    checked = 0
    for path in _templates():
        for form in FORM.findall(path.read_text()):
            opening = form.split(">", 1)[0].lower()
            if "method" in opening and "post" in opening:
                checked += 1
                assert "{% csrf_token %}" in form, f"{path.relative_to(ROOT)}: a POST form without {{% csrf_token %}}"
    assert checked >= 1


@pytest.mark.django_db
def test_posts_without_a_csrf_token_are_refused():
    site = make_site()
    alice = make_agent("alice", site)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/accounts/login/", {"username": "alice", "password": "pw-alice"}).status_code == 403
    supervisor = Client(enforce_csrf_checks=True)
    supervisor.force_login(root)
    assert supervisor.post(f"/admin/chatdesk/site/{site.pk}/change/", {"name": "changed"}).status_code == 403
    assert supervisor.post("/admin/chatdesk/message/", {"action": "export_csv"}).status_code == 403
    assert supervisor.post("/accounts/logout/").status_code == 403
    agent = Client(enforce_csrf_checks=True)
    agent.force_login(alice)
    assert agent.post("/console/").status_code in (403, 405)
    # The call list's JSON POST rides on the session, so it needs the token too (403 before the view's 404).
    refused = agent.post("/console/api/call-tasks/999/", '{"outcome": "voicemail"}', content_type="application/json")
    assert refused.status_code == 403 and b"CSRF" in refused.content
    site.refresh_from_db()
    assert site.name != "changed"


# -- Content-Security-Policy -------------------------------------------------------------

class _Scripts(HTMLParser):
    """Collects inline scripts and inline event handlers: a strict CSP blocks both."""

    def __init__(self):
        super().__init__()
        self.inline_scripts = []
        self.handlers = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
        if tag == "script" and "src" not in attrs and attrs.get("type") not in ("application/json", "application/ld+json"):
            self._in_script = True

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data.strip()[:80])


def csp_pages():
    """Our own pages and who may see them; /reports/ joins once it exists (see below)."""
    return [("/console/", "agent"), ("/demo/", None), ("/accounts/login/", None)]


@pytest.mark.django_db
def test_our_pages_send_a_strict_content_security_policy_and_need_no_inline_script():
    from django.urls import Resolver404, resolve

    site = make_site()
    alice = make_agent("alice", site)
    pages = csp_pages()
    try:
        resolve("/reports/")
        root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
        pages.append(("/reports/", root))
    except Resolver404:
        pass
    for path, who in pages:
        client = Client()
        if who == "agent":
            client.force_login(alice)
        elif who is not None:
            client.force_login(who)
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        assert directives.get("script-src") == ["'self'"], f"{path}: script-src {directives.get('script-src')}"
        assert directives.get("object-src") == ["'none'"] and directives.get("base-uri") == ["'self'"], path
        assert directives.get("frame-ancestors") == ["'none'"], path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        parser = _Scripts()
        parser.feed(response.content.decode())
        assert not parser.inline_scripts, f"{path}: inline scripts a strict CSP blocks: {parser.inline_scripts}"
        assert not parser.handlers, f"{path}: inline event handlers a strict CSP blocks: {parser.handlers}"
