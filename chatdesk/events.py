"""Publish events to sockets after the database commit, never before.

Actions call `emit(group, frame)`. The frame is queued with
`transaction.on_commit`, so a rolled-back change tells nobody. When an async
consumer runs the action (see `collecting`), the events are handed back to it
to `await` on the channel layer; anywhere else (REST views, Huey tasks) they
are sent synchronously at commit time.

Every layer event is `{"type": "chat.frame", "text": <encoded frame>}`: the
frame is encoded once, however many sockets receive it.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .layer_watch import layer_watch
from .layers import coalesce, send_to_groups

log = logging.getLogger(__name__)

LAYER_EVENT = "chat.frame"
_local = threading.local()


def visitor_group(visitor_id) -> str:
    return f"visitor.{visitor_id}"


def agent_group(user_id) -> str:
    return f"agent.{user_id}"


def site_agents_group(site_id) -> str:
    return f"site.{site_id}.agents"


def site_visitors_group(site_id) -> str:
    """Every widget socket of a site (after `hello`): for site-wide news such as `availability`."""
    return f"site.{site_id}.visitors"


def team_agents_group(team_id) -> str:
    """Every console socket of the members of one team (queue)."""
    return f"team.{team_id}.agents"


def conversation_audience(conv) -> str:
    """Who hears about a conversation that has no agent: its team, or else every agent of its site."""
    return team_agents_group(conv.team_id) if conv.team_id else site_agents_group(conv.site_id)


def conversation_watchers_group(conversation_id) -> str:
    return f"conversation.{conversation_id}"


def encode(frame: dict) -> str:
    return orjson.dumps(frame, default=str).decode()


def layer_event(frame: dict, **extra) -> dict:
    event = {"type": LAYER_EVENT, "text": encode(frame)}
    event.update(extra)
    return event


def event_pairs(groups, frame: dict, **extra) -> list[tuple[str, dict]]:
    """One frame for several groups as (group, event) pairs sharing one encoded event, ready to publish."""
    event = layer_event(frame, **extra)
    return [(group, event) for group in groups]


def emit(group: str, frame: dict, **extra) -> None:
    """Send `frame` to every socket in `group` once the current transaction commits."""
    emit_to((group,), frame, **extra)


def emit_to(groups, frame: dict, **extra) -> None:
    """Send one `frame` to several groups once the current transaction commits: encoded once, sent in one go.

    Each group still appears as its own (group, event) pair, sharing the one
    event object; publishers coalesce such runs (chatdesk.layers.coalesce).
    """
    pairs = event_pairs(groups, frame, **extra)
    collector = getattr(_local, "collector", None)
    if collector is not None:
        transaction.on_commit(lambda: collector.extend(pairs))
        return
    _sync_batch().extend(pairs)


def _sync_batch() -> list:
    """The events of the current transaction, sent together in one event loop when it commits.

    `async_to_sync` makes a new event loop, and channels_redis a new
    connection, per call; one call per transaction instead of per frame keeps
    REST views and Huey tasks cheap. A batch whose flush hook was dropped by a
    rollback is abandoned (Django keeps pending hooks in
    `connection.run_on_commit`).
    """
    connection = transaction.get_connection()
    current = getattr(_local, "batch", None)
    if current is not None and any(hook[1] is current[0] for hook in connection.run_on_commit):
        return current[1]
    events: list[tuple[str, dict]] = []

    def flush():
        if getattr(_local, "batch", None) is not None and _local.batch[1] is events:
            _local.batch = None
        if events:
            async_to_sync(publish)(events)

    _local.batch = (flush, events)
    transaction.on_commit(flush)
    if not connection.in_atomic_block:
        # Autocommit: on_commit ran `flush` already, with nothing in it yet.
        _local.batch = None
        return _Immediate()
    return events


class _Immediate(list):
    """Outside a transaction an event goes at once (there is nothing to wait for)."""

    def append(self, item):
        async_to_sync(publish)([item])

    def extend(self, items):
        async_to_sync(publish)(list(items))


def emit_layer_event(group: str, event: dict) -> None:
    """Send a raw layer event (a consumer method such as `console.regroup`, not a frame) after commit, like `emit`."""
    collector = getattr(_local, "collector", None)
    if collector is not None:
        transaction.on_commit(lambda: collector.append((group, event)))
        return
    _sync_batch().append((group, event))


@contextmanager
def collecting():
    """Collect committed events instead of sending them (used by async callers)."""
    previous = getattr(_local, "collector", None)
    bucket: list[tuple[str, dict]] = []
    _local.collector = bucket
    try:
        yield bucket
    finally:
        _local.collector = previous


async def publish(events: list[tuple[str, dict]]) -> None:
    """Send committed events, best effort: a layer outage must not turn a stored change into an error.

    Whoever misses an event resyncs by seq; the layer watch (chatdesk.layer_watch)
    makes every process's sockets do so once Redis answers again.
    """
    layer = get_channel_layer()
    for groups, event in coalesce(events):
        await send_best_effort(layer, groups, event)


async def send_best_effort(layer, groups, event: dict) -> None:
    """One committed event to its groups; a failure is logged and noted for the layer watch, never raised."""
    try:
        await send_to_groups(layer, groups, event)
    except Exception as exc:
        log.warning("could not publish to %s: %s", ", ".join(groups), exc)
        watch = layer_watch()
        if watch is not None:
            watch.note_publish_failure()
