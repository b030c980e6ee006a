"""Helpers for the routing tests: waiting conversations with known carts and times, and the frames an action sends."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import orjson
from django.test import TestCase
from django.utils import timezone

from agents.models import AgentProfile
from chatdesk import events
from chatdesk.models import Cart, Conversation, Visitor
from chatdesk.routing import refresh_priority

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=dt_timezone.utc)  # a Monday
_tokens = itertools.count(1)


def make_visitor(site, seen_at=None) -> Visitor:
    visitor = Visitor.objects.create(site=site)
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=seen_at or timezone.now())
    visitor.refresh_from_db()
    return visitor


def make_waiting(site, queued_at=None, total=None, step=None, returning=False, seen_at=None, visitor=None,
                 pinned_team=None) -> Conversation:
    """A queued conversation as the core would create it, with a chosen cart, step, customer and queue time."""
    queued_at = queued_at or timezone.now()
    visitor = visitor or make_visitor(site, seen_at=seen_at or queued_at)
    cart = None
    if total is not None:
        cart = Cart.objects.create(
            site=site, cart_token=f"t-{next(_tokens)}", visitor=visitor, total=Decimal(total),
            subtotal=Decimal(total), checkout_step=step or "cart",
        )
    elif step:
        Visitor.objects.filter(pk=visitor.pk).update(checkout_step=step)
        visitor.refresh_from_db()
    if returning:
        earlier = Conversation.objects.create(
            site=site, visitor=visitor, status=Conversation.CLOSED, queued_at=queued_at - timedelta(days=3),
        )
        Conversation.objects.filter(pk=earlier.pk).update(created_at=queued_at - timedelta(days=3))
    conv = Conversation.objects.create(site=site, visitor=visitor, cart=cart, queued_at=queued_at)
    Conversation.objects.filter(pk=conv.pk).update(created_at=queued_at)
    conv = Conversation.objects.select_related("site", "visitor", "cart").get(pk=conv.pk)
    if pinned_team is not None:
        conv.team, conv.team_pinned = pinned_team, True
    refresh_priority(conv)
    conv.save(update_fields=["priority_key", "team", "team_pinned"])
    return conv


def make_active(site, user, assigned_at=None) -> Conversation:
    """An active conversation held by `user` (load for capacity)."""
    at = assigned_at or timezone.now()
    visitor = make_visitor(site)
    conv = Conversation.objects.create(
        site=site, visitor=visitor, status=Conversation.ACTIVE, agent=user, queued_at=at, assigned_at=at,
        first_assigned_at=at, wait_seconds=0,
    )
    from chatdesk.models import Assignment

    Assignment.objects.create(conversation=conv, agent=user, kind=Assignment.CLAIM, started_at=at)
    return conv


def agent(username: str, site=None, capacity: int = 5, teams=()):
    """An agent without a password (hashing one costs a second on a busy machine; sockets use force_login)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username=username)
    profile = AgentProfile.objects.create(user=user, display_name=username.title(), capacity=capacity)
    if site is not None:
        profile.sites.add(site)
    for team in teams:
        profile.teams.add(team)
    return user


def set_online(user, presence=AgentProfile.ONLINE, heartbeat=None, sockets=1, last_assigned_at=None):
    AgentProfile.objects.filter(user=user).update(
        presence=presence, last_heartbeat_at=heartbeat or timezone.now(), connected_sockets=sockets,
        last_assigned_at=last_assigned_at,
    )
    return AgentProfile.objects.get(user=user)


@contextmanager
def committed():
    """Run the block as if its transaction committed (after-commit routing runs) and collect the frames sent.

    Yields a list that, after the block, holds (group, frame) pairs in order
    (raw layer events such as `console.regroup` as they are).
    """
    from django.db import connection

    # Routing runs registered by the test's set-up would run at a commit that,
    # in a test, never comes; the block's own changes start a fresh run.
    for _sids, func, _robust in connection.run_on_commit:
        if getattr(func, "queue_sites", None) is not None:
            func.has_run = True
    sent: list[tuple[str, dict]] = []
    with events.collecting() as bucket:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield sent
    sent.extend((group, orjson.loads(event["text"]) if "text" in event else event) for group, event in bucket)


def frames(sent, ftype, group=None) -> list[dict]:
    return [f for g, f in sent if f.get("type") == ftype and (group is None or g == group)]
