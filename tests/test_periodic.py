"""Background loops (layer watch, connection-slot refresher) end when cancelled, even when a call swallows the cancel."""
from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from django.conf import settings

from chatdesk.layer_watch import LayerWatch
from chatdesk.periodic import cancel_requested, repeat

from .conftest import ON_REDIS


async def _ends_when_cancelled(task, after: float) -> bool:
    await asyncio.sleep(after)
    task.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(task), 2)
    except asyncio.CancelledError:
        return True
    except asyncio.TimeoutError:
        return False
    return False


async def test_a_loop_whose_step_swallows_the_cancel_still_ends():
    steps = []

    async def swallowing_step():
        # What redis-py sometimes does: the cancel lands mid-command and the command returns normally.
        steps.append(1)
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass

    task = asyncio.ensure_future(repeat(0.001, swallowing_step))
    assert await _ends_when_cancelled(task, 0.02)
    assert task.cancelled()
    assert len(steps) == 1


async def test_a_plain_while_loop_around_the_same_step_would_not_end():
    """The failure `repeat` exists for: this is the shape the loops had before."""
    async def swallowing_step():
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass

    stop = asyncio.Event()

    async def naive():
        while not stop.is_set():  # stands for `while True`, with a way out for this test
            await swallowing_step()
            await asyncio.sleep(0.001)

    task = asyncio.ensure_future(naive())
    assert not await _ends_when_cancelled(task, 0.02)
    assert cancel_requested() is False  # only the cancelled task sees its request
    stop.set()
    await task


async def test_the_first_wait_is_cancellable_and_no_step_runs():
    steps = []

    async def step():
        steps.append(1)

    task = asyncio.ensure_future(repeat(10, step, wait_first=True))
    assert await _ends_when_cancelled(task, 0.01)
    assert steps == []


@pytest.mark.skipif(not ON_REDIS, reason="the layer watch talks to Redis")
async def test_the_layer_watch_ends_whenever_it_is_cancelled_mid_redis_call():
    # Cancelled at random moments of its Redis calls; before `repeat`, 1 in a few hung forever.
    rng = random.Random(7)
    for _ in range(60):
        watch = LayerWatch(settings.REDIS_URL, f"test-periodic-{uuid.uuid4().hex[:8]}", 0.001)
        task = asyncio.ensure_future(watch._watch_forever())
        assert await _ends_when_cancelled(task, rng.random() * 0.004)
