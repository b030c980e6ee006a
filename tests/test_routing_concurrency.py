"""Racing claims and automatic assignments on real PostgreSQL: never assigned twice, never over capacity.

Two shapes of the same rule: worker threads with their own database
connections calling the actions directly, and two real Daphne processes
sharing PostgreSQL and Redis, with agents' consoles on both.
"""
from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from agents.models import AgentProfile
from chatdesk.actions.assignment import assign_next
from chatdesk.actions.conversations import claim
from chatdesk.errors import ActionError
from chatdesk.models import Assignment, Conversation, Site

from .conftest import make_site, session_cookie
from .routing_support import agent, make_waiting, set_online
from .wsclient import Client

AGENTS, CAPACITY, WAITING, OPERATIONS = 8, 5, 60, 200


async def next_of(client: Client, types, timeout: float) -> dict:
    """The next frame of one of `types` (others are dropped: queue and conversation frames are not the point)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(client.ws.recv(), max(deadline - loop.time(), 0.01)))
        if frame.get("type") in types:
            return frame


def _check_invariants(site, successes):
    """The rules: one holder per conversation, nobody over capacity, and the records agree with each other."""
    won = Counter(conv_id for conv_id, _ in successes)
    assert not [c for c, n in won.items() if n > 1], "a conversation was assigned twice"
    stretches = Counter(Assignment.objects.filter(conversation__site=site).values_list("conversation_id", flat=True))
    assert all(n == 1 for n in stretches.values()), "a conversation has two assignment records"
    loads = Counter(
        Conversation.objects.filter(site=site, status=Conversation.ACTIVE).values_list("agent_id", flat=True)
    )
    capacities = dict(AgentProfile.objects.filter(sites=site).values_list("user_id", "capacity"))
    assert all(loads[user_id] <= capacities[user_id] for user_id in loads), loads
    active = dict(Conversation.objects.filter(site=site, status=Conversation.ACTIVE).values_list("id", "agent_id"))
    assert active == dict(Assignment.objects.filter(conversation__site=site).values_list("conversation_id", "agent_id"))
    for conv_id, agent_id in successes:
        assert active[conv_id] == agent_id
    return loads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_200_racing_claims_and_automatic_assignments_from_threads_never_assign_twice_or_over_capacity(settings):
    # The layer is not what is tested here; keep the fan-out in memory.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    site = make_site()
    users = [agent(f"agent{i}", site, capacity=CAPACITY) for i in range(AGENTS)]
    for user in users:
        set_online(user)
    conv_ids = [make_waiting(site).id for _ in range(WAITING)]
    rng = random.Random(5)
    ops = [("claim", rng.choice(users), rng.choice(conv_ids)) for _ in range(OPERATIONS * 3 // 4)]
    ops += [("auto", None, None)] * (OPERATIONS - len(ops))
    rng.shuffle(ops)

    successes, refusals, failures = [], Counter(), []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker(chunk):
        try:
            start.wait()
            for kind, user, conv_id in chunk:
                try:
                    if kind == "claim":
                        conv = claim(user, conv_id)
                    else:
                        conv = assign_next(Site.objects.get(pk=site.pk))
                        if conv is None:
                            continue
                    with lock:
                        successes.append((conv.id, conv.agent_id))
                except ActionError as err:
                    with lock:
                        refusals[err.code] += 1
                except Exception as exc:  # a deadlock or an integrity error would land here
                    with lock:
                        failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(ops[i::12],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:3]
    assert set(refusals) <= {"already_assigned", "over_capacity"}
    loads = _check_invariants(site, successes)
    # Every slot got filled (there are more waiting than slots), by both kinds of assignment.
    assert sum(loads.values()) == AGENTS * CAPACITY == len(successes)
    kinds = Counter(Assignment.objects.values_list("kind", flat=True))
    assert kinds["claim"] > 0 and kinds["auto"] > 0, kinds


async def connect_console(proc, cookie: str) -> Client:
    """Connect as a console does: retrying a refused handshake.

    Each process runs its database work on one thread, and Daphne drops a
    handshake not accepted within 5 s; while the first agents online are
    being given 40 conversations on a busy machine, a console may have to
    try again, as the real console does.
    """
    for attempt in range(5):
        try:
            ws = await websockets.connect(f"{proc.ws_url}/ws/console/", origin="http://localhost:8000",
                                          additional_headers={"Cookie": cookie}, open_timeout=30)
            return Client(ws)
        except (websockets.exceptions.InvalidMessage, OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("the console could not connect")


@pytest.mark.postgres
@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
async def test_200_claims_racing_automatic_assignment_across_two_daphne_processes(daphne_pair):
    a, b = daphne_pair

    def setup():
        site = make_site(routing_mode=Site.ROUTING_AUTO)
        users = [agent(f"agent{i}", site, capacity=CAPACITY) for i in range(AGENTS)]
        conv_ids = [make_waiting(site).id for _ in range(WAITING)]
        return site, users, conv_ids, [session_cookie(u).decode() for u in users]

    site, users, conv_ids, cookies = await sync_to_async(setup)()
    rng = random.Random(11)
    per_agent = OPERATIONS // AGENTS

    async def one_agent(i):
        # Connecting brings the agent online, which starts automatic assignment in that process,
        # while the same agent fires claims at random waiting conversations.
        proc = (a, b)[i % 2]
        console = await connect_console(proc, cookies[i])
        targets = [rng.choice(conv_ids) for _ in range(per_agent)]
        for conv_id in targets:
            await console.send({"type": "claim", "conversation_id": conv_id})
        won, codes = [], Counter()
        for _ in targets:
            frame = await next_of(console, ("detail", "error"), timeout=60)
            if frame["type"] == "detail":
                won.append((frame["conversation"]["id"], users[i].id))
            else:
                codes[frame["code"]] += 1
        await console.close()
        return won, codes

    results = await asyncio.gather(*(one_agent(i) for i in range(AGENTS)))
    successes = [w for won, _ in results for w in won]
    codes = sum((c for _, c in results), Counter())
    assert set(codes) <= {"already_assigned", "over_capacity"}, codes
    loads = await sync_to_async(_check_invariants)(site, successes)
    # Automatic assignment fills every slot; some of them were won by claims.
    assert sum(loads.values()) == AGENTS * CAPACITY
    kinds = await sync_to_async(lambda: Counter(Assignment.objects.values_list("kind", flat=True)))()
    assert kinds["auto"] > 0 and kinds["claim"] == len(successes)
