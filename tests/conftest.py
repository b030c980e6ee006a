"""Shared fixtures: a seeded site, agents, and socket helpers that go through the real ASGI app."""
from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import AgentProfile
from chatdesk.models import Site

ORIGIN = "http://localhost:8000"

# Worker threads of database_sync_to_async must not keep connections open
# across tests, or PostgreSQL refuses to drop the test database.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def make_site(key="demo-store", **kw) -> Site:
    defaults = {"name": key.title(), "allowed_origins": "http://localhost:*\nhttp://127.0.0.1:*"}
    defaults.update(kw)
    site = Site(key=key, **defaults)
    site.set_api_key(f"key-{key}")
    site.webhook_secret = f"secret-{key}"
    site.save()
    return site


def make_agent(username: str, site: Site | None, capacity: int = 5, name: str | None = None):
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    profile = AgentProfile.objects.create(user=user, display_name=name or username.title(), capacity=capacity)
    if site is not None:
        profile.sites.add(site)
    return user


@pytest.fixture
def site(db):
    return make_site()


@pytest.fixture
def alice(site):
    return make_agent("alice", site)


@pytest.fixture
def bob(site):
    return make_agent("bob", site)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _app():
    from chatdesk.asgi import application

    return application


class Socket:
    """A WebsocketCommunicator with frame helpers that skip frames a test is not looking for."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.c = communicator

    async def send(self, frame: dict):
        await self.c.send_json_to(frame)

    async def recv(self, timeout: float = 3) -> dict:
        return await self.c.receive_json_from(timeout=timeout)

    async def expect(self, ftype: str, timeout: float = 3, **match) -> dict:
        """Receive until a frame of `ftype` (matching `match`) arrives; other frames are skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {ftype} frame matching {match}")
            frame = await self.c.receive_json_from(timeout=remaining)
            if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def drain(self, timeout: float = 0.2) -> list[dict]:
        """Every frame that arrives until `timeout` passes quietly (the app keeps running)."""
        frames = []
        while not await self.c.receive_nothing(timeout=timeout, interval=0.02):
            frames.append(await self.c.receive_json_from(timeout=1))
        return frames

    async def close(self):
        await self.c.disconnect()


async def widget(site_key="demo-store", origin=ORIGIN, token=None, last_seq=0, hello=True):
    communicator = WebsocketCommunicator(_app(), f"/ws/widget/{site_key}/", headers=[(b"origin", origin.encode())])
    connected, code = await communicator.connect()
    assert connected, f"widget refused with {code}"
    sock = Socket(communicator)
    if hello:
        await sock.send({"type": "hello", "visitor_token": token, "last_seq": last_seq})
        sock.welcome = await sock.expect("welcome")
    return sock


async def console(user):
    cookie = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(_app(), "/ws/console/", headers=[(b"cookie", cookie), (b"origin", ORIGIN.encode())])
    connected, code = await communicator.connect()
    assert connected, f"console refused with {code}"
    sock = Socket(communicator)
    sock.state = await sock.expect("state")
    return sock


ON_REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.fixture
def daphne(transactional_db):
    """One real Daphne process serving the test database; stopped after the test."""
    from .servers import start_daphne

    procs = start_daphne(1)
    yield procs[0]
    _stop_all(procs)


@pytest.fixture
def daphne_pair(transactional_db):
    """Two Daphne processes sharing PostgreSQL and Redis (skipped without REDIS_URL)."""
    if not ON_REDIS:
        pytest.skip("needs REDIS_URL: several processes share the channel layer")
    from .servers import start_daphne

    procs = start_daphne(2)
    yield procs
    _stop_all(procs)


def _stop_all(procs):
    for p in procs:
        p.stop()


@pytest.fixture(scope="session", autouse=True)
def _drop_stray_sessions_at_the_end(django_db_setup, django_db_blocker):
    """Worker threads and child processes keep PostgreSQL sessions; end them before the test database is dropped."""
    yield
    from .servers import end_other_db_sessions

    with django_db_blocker.unblock():
        end_other_db_sessions()


@pytest.fixture(autouse=True)
def _an_empty_memory_cache_per_test():
    """Without Redis the cache lives in the process, and SQLite hands the next test's site the same id: the
    API's rate buckets (chatdesk.storeapi.throttle) would carry over. In Redis site ids differ from test to
    test (PostgreSQL sequences are not rolled back) and buckets empty themselves within seconds."""
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        from django.core.cache import cache

        cache.clear()


@pytest.fixture(autouse=True)
def _a_channel_layer_per_test():
    """Each test gets a fresh channel layer object.

    pytest-asyncio runs every test on a new event loop, and channels_redis'
    layer keeps asyncio locks and a receive buffer bound to the loop that
    first used them: a layer carried over from an earlier test whose
    consumers were torn down mid-receive failed later tests with "Lock ...
    is bound to a different event loop". Production has one loop per
    process, so this only concerns tests.
    """
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _async_database_connections_end_with_the_test():
    """Each test's event loop gets its own chatdesk.asyncdb pool; close it with the test so PostgreSQL keeps few sessions."""
    yield
    from chatdesk import asyncdb

    asyncdb.close_all()


@pytest.fixture
async def chromium():
    """Debian's Chromium through Playwright's async API, for tests that drive the console and the widget together."""
    from playwright.async_api import async_playwright

    from .console_browser import launch

    async with async_playwright() as p:
        browser = await launch(p)
        yield browser
        await browser.close()
