"""Helpers for the widget's browser tests: Chromium, a console-socket agent, a static page server, polling."""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from chatdesk.management.commands.seed_demo import CATALOGUE
from chatdesk.models import Product

from .conftest import make_site, session_cookie

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
W = "chatdesk-widget"  # Playwright's CSS selectors pierce the widget's open shadow root


def seed_shop(agent_online: bool = True):
    """The demo site with the seeded catalogue, as `seed_demo` makes it (without its slow password hashing).

    With `agent_online`, a colleague is online, so the site is open for chat
    (`welcome.availability`); with nobody online the widget offers to leave a
    message instead of the composer (docs/routing.md).
    """
    site = make_site(name="Demo Store")
    for sku, name, description, price in CATALOGUE:
        Product.objects.create(site=site, sku=sku, name=name, description=description, price=Decimal(price),
                               image_url=f"/static/shopper_widget/demo/{sku.lower()}.svg", url=f"/demo/#{sku}")
    if agent_online:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from agents.models import AgentProfile

        user = get_user_model().objects.create(username="olga")
        profile = AgentProfile.objects.create(user=user, display_name="Olga")
        profile.sites.add(site)
        # Set directly: nothing to announce yet (and no event loop may be driven from Playwright's thread).
        AgentProfile.objects.filter(pk=profile.pk).update(presence=AgentProfile.ONLINE, last_heartbeat_at=timezone.now())
    return site


def wait_for(fn, timeout: float = 10, what: str = "condition"):
    """Poll `fn` until it returns something truthy (CSP on the demo page forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def js(page, expression: str):
    return page.evaluate(f"() => {expression}")


def ready(page, timeout: float = 15) -> str:
    """Wait until the widget has its visitor (the `welcome` frame arrived); returns the visitor id."""
    return wait_for(lambda: js(page, "window.ChatDesk && window.ChatDesk.visitorId && window.ChatDesk.visitorId()"),
                    timeout, "the widget's welcome")


def bubbles(page, cls: str = "") -> list[str]:
    return page.locator(f"{W} li.msg{cls} .bubble").all_inner_texts()


def send(page, text: str) -> None:
    page.fill(f"{W} textarea.input", text)
    page.press(f"{W} textarea.input", "Enter")


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"widget-{name}.png"
    page.screenshot(path=str(path))
    return path


class Agent:
    """An agent's console socket (CONTRACT 3.2 frames), synchronous for use beside Playwright's sync API."""

    def __init__(self, daphne, user):
        cookie = session_cookie(user).decode()
        self.ws = ws_connect(f"{daphne.ws_url}/ws/console/", origin=daphne.url, additional_headers={"Cookie": cookie},
                             open_timeout=10)
        self.expect("state")

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def expect(self, ftype: str, timeout: float = 10, **match) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"agent got no {ftype} frame matching {match}")
            frame = json.loads(self.ws.recv(timeout=remaining))
            if frame.get("type") == "error":
                raise AssertionError(f"agent got an error: {frame}")
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return frame

    def say(self, conversation_id: int, text: str) -> dict:
        cid = uuid.uuid4().hex
        self.send({"type": "message", "conversation_id": conversation_id, "client_id": cid, "text": text})
        return self.expect("ack", client_id=cid)

    def offer(self, conversation_id: int, **offer) -> dict:
        cid = uuid.uuid4().hex
        self.send({"type": "offer", "conversation_id": conversation_id, "client_id": cid, "offer": offer})
        return self.expect("ack", client_id=cid)

    def close(self) -> None:
        self.ws.close()


class StaticServer:
    """Serves a folder on 127.0.0.1:<free port>: a store page on another origin than ChatDesk."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class FakeChatDesk:
    """A stand-in for the shopper socket that speaks protocol additions the real server may not have yet.

    It answers `hello` with a `welcome` carrying `extra` (availability, interventions, ...), records every
    frame the widget sends, and answers with `reply(frame)` (a list of frames) when given.
    """

    def __init__(self, extra: dict | None = None, reply=None):
        from websockets.sync.server import serve

        self.extra = extra or {}
        self.reply = reply or (lambda frame: [])
        self.frames: list[dict] = []
        self.sockets: list = []
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handle(self, ws):
        self.sockets.append(ws)
        for text in ws:
            frame = json.loads(text)
            self.frames.append(frame)
            if frame["type"] == "hello":
                welcome = {"type": "welcome", "visitor_token": "fake-token", "visitor_id": str(uuid.UUID(int=7)),
                           "site": {"name": "Fake Store", "greeting": "Hello from the fake", "accent_color": "#0f766e",
                                    "currency": "EUR"},
                           "conversation": None, "messages": [], "offers": []}
                welcome.update(self.extra)
                ws.send(json.dumps(welcome))
            for out in self.reply(frame):
                ws.send(json.dumps(out))

    def push(self, frame: dict) -> None:
        """Send a frame to every connected widget, as the server does to all of a visitor's sockets."""
        for ws in list(self.sockets):
            try:
                ws.send(json.dumps(frame))
            except Exception:  # a closed socket
                self.sockets.remove(ws)

    def sent(self, ftype: str, **match) -> list[dict]:
        return [f for f in list(self.frames) if f["type"] == ftype and all(f.get(k) == v for k, v in match.items())]

    def stop(self) -> None:
        self.server.shutdown()


def store_page(folder: Path, widget_src: str, head: str = "", body: str = "", attrs: str = "") -> Path:
    """Write a plain third-party store page embedding the widget with the one documented tag."""
    page = folder / "index.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Some store</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<link rel='icon' href='data:,'>{head}</head><body>{body}"
        f"<script src='{widget_src}' data-site='demo-store' {attrs} async></script></body></html>"
    )
    return page


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django's ORM would refuse to run beside it.
    # Django documents this switch for exactly that case; it is on only while the browser is.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def watch(page) -> dict:
    """Collect dialogs (an XSS would open one) and script errors on a page."""
    seen = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen
