"""Helpers for the console's browser tests: Chromium, a logged-in console page, a shopper over a real socket."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import websockets

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}


async def launch(playwright):
    return await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)


async def console_page(browser, base_url: str, username: str, errors: list | None = None):
    """A new browser context signed in as `username` (password "pw-<username>"), on a live /console/."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
        page.on("console", lambda msg: errors.append(f"{username}: {msg.text}")
                if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    await page.goto(f"{base_url}/accounts/login/?next=/console/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", f"pw-{username}")
    await page.click("button[type=submit]")
    await page.wait_for_selector(".connection-open", timeout=15000)
    return page


async def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The caret and the ticking clocks are the only moving parts; a settled frame reads better.
    await page.wait_for_timeout(250)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


class Shopper:
    """A shopper's widget socket, driven frame by frame (the same frames widget.js sends)."""

    @classmethod
    async def connect(cls, base_url: str, site_key: str = "demo-store") -> "Shopper":
        self = cls()
        self.base_url = base_url
        ws_url = base_url.replace("http://", "ws://") + f"/ws/widget/{site_key}/"
        self.ws = await websockets.connect(ws_url, origin=base_url, open_timeout=10)
        self.inbox: list[dict] = []
        self.seen: list[dict] = []  # every frame received, for "never saw" checks
        await self.send({"type": "hello", "visitor_token": None, "last_seq": 0})
        self.welcome = await self.expect("welcome")
        self.visitor_id = self.welcome["visitor_id"]
        return self

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def _recv(self, timeout: float) -> dict:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(frame)
        return frame

    async def expect(self, ftype: str, timeout: float = 20, **match) -> dict:
        for i, frame in enumerate(self.inbox):
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return self.inbox.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"shopper got no {ftype} frame matching {match}; last: {self.inbox[-5:]}")
            try:
                frame = await self._recv(remaining)
            except asyncio.TimeoutError:
                continue
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self.inbox.append(frame)

    async def drain(self, quiet: float = 0.3) -> list[dict]:
        """Everything that arrives until the socket has been quiet for `quiet` seconds."""
        out = []
        while True:
            try:
                frame = await self._recv(quiet)
            except asyncio.TimeoutError:
                return out
            self.inbox.append(frame)
            out.append(frame)

    async def say(self, text: str, client_id: str) -> dict:
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return (await self.expect("ack", client_id=client_id))["message"]

    async def close(self) -> None:
        await self.ws.close()
