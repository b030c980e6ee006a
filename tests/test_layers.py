"""ChatDesk's Redis layer: one event to several groups in one go, read back by stock channels_redis as by ours."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as StockLayer
from django.conf import settings

from chatdesk.layers import RedisChannelLayer, coalesce, send_to_groups

from .conftest import ON_REDIS

needs_redis = pytest.mark.skipif(not ON_REDIS, reason="the Redis layer needs REDIS_URL")


def _layers(**config):
    prefix = f"test-layers-{uuid.uuid4().hex[:8]}"
    ours = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, **config)
    stock = StockLayer(hosts=[settings.REDIS_URL], prefix=prefix, **config)
    return ours, stock


async def _nothing_waiting(layer, channel) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.3)
    except asyncio.TimeoutError:
        return True
    return False


@needs_redis
async def test_one_event_to_two_groups_reaches_each_member_once_even_a_member_of_both():
    ours, stock = _layers()
    shopper = await ours.new_channel()
    agent = await stock.new_channel()  # another process, still on the stock layer
    both = await ours.new_channel()
    await ours.group_add("visitor.a", shopper)
    await ours.group_add("agent.1", agent)
    await ours.group_add("visitor.a", both)
    await ours.group_add("agent.1", both)

    await ours.group_send_many(["visitor.a", "agent.1"], {"type": "chat.frame", "text": "hi"})

    assert (await ours.receive(shopper))["text"] == "hi"
    assert (await stock.receive(agent))["text"] == "hi"
    assert (await ours.receive(both))["text"] == "hi"
    assert await _nothing_waiting(ours, both)
    await ours.flush()


@needs_redis
async def test_the_sending_socket_named_in_skip_is_not_sent_its_own_copy_but_its_other_tabs_are():
    ours, _ = _layers()
    sender, other_tab, agent = await ours.new_channel(), await ours.new_channel(), await ours.new_channel()
    await ours.group_add("visitor.a", sender)
    await ours.group_add("visitor.a", other_tab)
    await ours.group_add("agent.1", agent)

    await ours.group_send_many(["visitor.a", "agent.1"], {"type": "chat.frame", "text": "hi", "skip": sender})

    assert (await ours.receive(other_tab))["text"] == "hi"
    assert (await ours.receive(agent))["text"] == "hi"
    assert await _nothing_waiting(ours, sender)
    await ours.flush()


@needs_redis
async def test_a_member_added_in_one_round_trip_is_stored_as_the_stock_layer_stores_it():
    ours, stock = _layers(group_expiry=600)
    member = await ours.new_channel()
    await ours.group_add("site.9", member)
    key = ours._group_key("site.9")
    client = ours.connection(ours.consistent_hash("site.9"))
    assert await client.zrange(key, 0, -1) == [member.encode()]
    assert 590 <= await client.ttl(key) <= 600
    await stock.group_send("site.9", {"type": "chat.frame", "text": "from a stock process"})
    assert (await ours.receive(member))["text"] == "from a stock process"
    await ours.group_discard("site.9", member)
    assert await client.zrange(key, 0, -1) == []
    await ours.flush()


@needs_redis
async def test_pub_sub_one_event_to_two_groups_in_one_pipeline_reaches_stock_subscribers_of_each():
    from channels_redis.pubsub import RedisPubSubChannelLayer as StockPubSub

    from chatdesk.layers import RedisPubSubChannelLayer

    prefix = f"test-pubsub-{uuid.uuid4().hex[:8]}"
    ours = RedisPubSubChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    stock = StockPubSub(hosts=[settings.REDIS_URL], prefix=prefix)
    shopper, agent, outsider = await stock.new_channel(), await stock.new_channel(), await stock.new_channel()
    await stock.group_add("visitor.a", shopper)
    await stock.group_add("agent.1", agent)
    await stock.group_add("site.1", outsider)
    await asyncio.sleep(0.1)  # subscriptions settle

    await send_to_groups(ours, ["visitor.a", "agent.1"], {"type": "chat.frame", "text": "hi"})

    assert (await asyncio.wait_for(stock.receive(shopper), 2))["text"] == "hi"
    assert (await asyncio.wait_for(stock.receive(agent), 2))["text"] == "hi"
    assert await _nothing_waiting(stock, outsider)
    await ours.flush()
    await stock.flush()


@needs_redis
async def test_a_plain_group_send_reaches_members_of_this_and_of_a_stock_process_and_no_one_else():
    ours, stock = _layers()
    here, there, outsider = await ours.new_channel(), await stock.new_channel(), await ours.new_channel()
    await stock.group_add("site.1", here)
    await stock.group_add("site.1", there)
    await ours.group_add("site.2", outsider)

    await ours.group_send("site.1", {"type": "chat.frame", "text": "queue changed"})

    assert (await ours.receive(here))["text"] == "queue changed"
    assert (await stock.receive(there))["text"] == "queue changed"
    assert await _nothing_waiting(ours, outsider)
    # And the other way round: the stock layer's sends reach our sockets.
    await stock.group_send("site.2", {"type": "chat.frame", "text": "back"})
    assert (await ours.receive(outsider))["text"] == "back"
    await ours.flush()


@needs_redis
async def test_a_group_with_no_members_and_a_full_channel_are_passed_over_without_error():
    ours, _ = _layers(capacity=1)
    await ours.group_send_many(["empty.one", "empty.two"], {"type": "chat.frame", "text": "anyone?"})
    stuck = await ours.new_channel()
    await ours.group_add("g", stuck)
    await ours.group_send("g", {"type": "chat.frame", "text": "first"})
    await ours.group_send("g", {"type": "chat.frame", "text": "dropped: the channel holds one"})
    assert (await ours.receive(stuck))["text"] == "first"
    assert await _nothing_waiting(ours, stuck)
    await ours.flush()


@needs_redis
async def test_members_past_the_group_expiry_are_dropped_not_sent_to():
    ours, _ = _layers(group_expiry=1)
    gone = await ours.new_channel()
    await ours.group_add("g", gone)
    await asyncio.sleep(2.1)  # the member's score is its join time; expired members are pruned on send
    await ours.group_send("g", {"type": "chat.frame", "text": "late"})
    assert await _nothing_waiting(ours, gone)
    await ours.flush()


async def test_other_layers_get_one_group_send_per_group():
    layer = InMemoryChannelLayer()
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("x", a)
    await layer.group_add("y", b)
    await send_to_groups(layer, ["x", "y"], {"type": "chat.frame", "text": "t"})
    assert (await layer.receive(a))["text"] == "t"
    assert (await layer.receive(b))["text"] == "t"


def test_coalesce_joins_only_runs_that_share_one_event_object():
    shared, other, twin = {"type": "e", "n": 1}, {"type": "e", "n": 2}, {"type": "e", "n": 1}
    pairs = [("v", shared), ("a", shared), ("s", other), ("v", twin), ("a", shared)]
    assert coalesce(pairs) == [(["v", "a"], shared), (["s"], other), (["v"], twin), (["a"], shared)]
