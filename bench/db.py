"""The benchmark's own PostgreSQL database and Redis db: create, migrate, seed, reset, and bulk fixtures.

Runs inside the runner process (Django set up on the bench database). Bulk
fixtures (2,000 conversations for the storm and console scenarios) are written
with the ORM in a few statements; the load itself always goes through sockets.
"""
from __future__ import annotations

import os
from datetime import timedelta

import django
from django.conf import settings

BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/chatdesk_bench_ws"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/10"
BENCH_PREFIX = "chatdesk_bench"
PASSWORD = "chatdesk-demo"


def configure(database_url: str, redis_url: str, prefix: str, layer: str) -> dict:
    """Point this process (and the servers it starts) at the bench database and Redis db; returns their env."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHATDESK_LAYER_PREFIX": prefix,
        "CHATDESK_CHANNEL_LAYER": layer,
        "DJANGO_SETTINGS_MODULE": "chatdesk.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHATDESK_LOG_LEVEL": "WARNING",
        # Every generated shopper comes from 127.0.0.1; in production each has their own address.
        "CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    if not settings.configured:
        django.setup()
    return env


def ensure_database(database_url: str) -> None:
    import psycopg
    from urllib.parse import urlsplit

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate_and_seed(agents: int = 20, capacity: int = 10) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", agents=agents, capacity=capacity, api_key="bench-api-key",
                 webhook_secret="bench-webhook-secret", password=PASSWORD, no_history=True,
                 stdout=open(os.devnull, "w"))


def flush_redis(redis_url: str) -> None:
    """Empty the bench's own Redis db (never another one)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    assert r.connection_pool.connection_kwargs.get("db") == int(redis_url.rsplit("/", 1)[1])
    r.flushdb()
    r.close()


def reset() -> None:
    """Forget every visitor, conversation and cart; agents offline with no sockets."""
    from django.db import connection

    from agents.models import AgentProfile

    with connection.cursor() as cur:
        cur.execute("TRUNCATE chatdesk_visitor, chatdesk_cart CASCADE")
    AgentProfile.objects.update(presence=AgentProfile.OFFLINE, connected_sockets=0)


def agent_names(count: int) -> list[str]:
    return [f"agent{i}" for i in range(1, count + 1)]


def session_cookies(usernames) -> dict[str, str]:
    """A logged-in session cookie per agent, made the way Django's login does."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for user in get_user_model().objects.filter(username__in=list(usernames)):
        client = Client()
        client.force_login(user)
        cookies[user.username] = f"sessionid={client.cookies['sessionid'].value}"
    return cookies


def bulk_conversations(count: int, status: str, agents: list[str] | None = None, messages: int = 2) -> list[dict]:
    """`count` visitors with one open conversation each (`messages` messages already in it).

    `status` queued leaves them waiting; active spreads them over `agents`
    round robin. Returns, per conversation: visitor token, conversation id,
    last seq and the agent's username.
    """
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from chatdesk.actions.visitors import make_visitor_token
    from chatdesk.models import Conversation, Message, Site, Visitor
    from chatdesk.routing import priority_key

    site = Site.objects.get(key="demo-store")
    users = list(get_user_model().objects.filter(username__in=agents or []).order_by("id"))
    now = timezone.now()
    with transaction.atomic():
        visitors = Visitor.objects.bulk_create([Visitor(site=site, last_seen_at=now) for _ in range(count)])
        convs = []
        for i, v in enumerate(visitors):
            queued_at = now - timedelta(seconds=count - i)
            conv = Conversation(site=site, visitor=v, status=status, queued_at=queued_at, last_seq=messages,
                                last_message_at=now, priority_key=priority_key(site, 0.0, queued_at))
            if status == Conversation.ACTIVE:
                conv.agent = users[i % len(users)]
                conv.assigned_at = conv.first_assigned_at = now
            convs.append(conv)
        convs = Conversation.objects.bulk_create(convs)
        Message.objects.bulk_create([
            Message(conversation=c, seq=s, sender=Message.SHOPPER, text=f"seeded {s}", client_id=f"seed-{c.id}-{s}",
                    created_at=now)
            for c in convs for s in range(1, messages + 1)
        ])
    return [
        {"token": make_visitor_token(v), "conversation_id": c.id, "last_seq": messages,
         "agent": c.agent.username if c.agent_id else None}
        for v, c in zip(visitors, convs)
    ]


def stored_sequences(conversation_ids) -> dict[int, list[int]]:
    """Every stored seq per conversation (to check gap-free numbering after a run)."""
    from chatdesk.models import Message

    out: dict[int, list[int]] = {}
    for cid, seq in Message.objects.filter(conversation_id__in=list(conversation_ids)).order_by(
        "conversation_id", "seq"
    ).values_list("conversation_id", "seq"):
        out.setdefault(cid, []).append(seq)
    return out


def drop_database(database_url: str) -> None:
    import psycopg
    from urllib.parse import urlsplit

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
