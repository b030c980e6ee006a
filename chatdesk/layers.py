"""channels_redis' list-based layer with a group send of two Redis round trips, for one group or several.

`channels_redis.core.RedisChannelLayer.group_send` makes four round trips
per group (drop expired members; read members; drop expired messages; run the
push script), each taking a connection from the pool. A chat message goes to
two groups (the shopper's and the agent's), so eight. Here the members of
every group are read in one pipeline and the push is a second pipeline:
two round trips whatever the number of groups, and a channel in two of the
groups gets the event once. Membership, capacity, expiry and the stored
message format are channels_redis' own (its helpers are reused), so any
process running the stock layer still reads what this one sends. It leans on
channels_redis 4.3 internals (`_map_channel_keys_to_connection`,
`_group_key`), which is why requirements.txt pins that version.

An event that names its sending socket (`skip`) is not pushed to that
socket's channel at all: it would only be read and dropped there.

A group_add is one round trip too (ZADD and EXPIRE pipelined). The pub/sub
layer's subclass sends one event to several groups in one pipeline.

`send_to_groups` sends one event to several groups on any layer: with
`group_send_many` when the layer has it, else one `group_send` per group.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from channels_redis import core, pubsub

log = logging.getLogger(__name__)

# channels_redis' own push script: add the message to each channel's sorted set unless it is full.
_PUSH = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i=1,#KEYS do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class RedisChannelLayer(core.RedisChannelLayer):
    async def group_add(self, group, channel):
        """channels_redis' group_add (ZADD, then EXPIRE) in one round trip instead of two: every hello makes two."""
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        group_key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zadd(group_key, {channel: time.time()})
        pipe.expire(group_key, self.group_expiry)
        await pipe.execute()

    async def group_send(self, group, message):
        await self.group_send_many([group], message)

    async def group_send_many(self, groups, message) -> None:
        """Send `message` once to every channel in any of `groups`: two Redis round trips per shard."""
        assert isinstance(message, dict), "message is not a dict"
        keys_by_shard: dict[int, list[bytes]] = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            keys_by_shard[self.consistent_hash(group)].append(self._group_key(group))

        members_cutoff = int(time.time()) - self.group_expiry
        channels: dict[str, None] = {}  # ordered and unique: a socket in two groups gets one copy
        for shard, keys in keys_by_shard.items():
            pipe = self.connection(shard).pipeline(transaction=False)
            for key in keys:
                pipe.zremrangebyscore(key, min=0, max=members_cutoff)
                pipe.zrange(key, 0, -1)
            replies = await pipe.execute()
            for members in replies[1::2]:
                channels.update((m.decode("utf8"), None) for m in members)
        # The sending socket would drop its own copy (FrameConsumer.chat_frame): do not
        # make Redis and that socket's receive loop carry it there first.
        channels.pop(message.get("skip"), None)
        if not channels:
            return

        by_shard, message_for_key, capacity_for_key = self._map_channel_keys_to_connection(list(channels), message)
        messages_cutoff = int(time.time()) - int(self.expiry)
        for shard, channel_keys in by_shard.items():
            pipe = self.connection(shard).pipeline(transaction=False)
            for key in channel_keys:
                pipe.zremrangebyscore(key, min=0, max=messages_cutoff)
            args = [message_for_key[k] for k in channel_keys] + [capacity_for_key[k] for k in channel_keys]
            pipe.eval(_PUSH, len(channel_keys), *channel_keys, *args, time.time(), self.expiry)
            over_capacity = (await pipe.execute())[-1]
            if over_capacity:
                # As channels_redis does: a full channel belongs to a socket that stopped reading.
                log.info("%s of %s channels over capacity in groups %s", over_capacity, len(channels), groups)


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    """channels_redis' pub/sub layer with one pipelined round trip for an event to several groups.

    Stock, a chat message's two groups are two PUBLISH round trips, one after
    the other behind the shard's lock; the pub/sub profile put a quarter of
    the event loop in those writes. Same channels, same payload: a stock
    process subscribed to the groups reads them as before.
    """

    async def group_send_many(self, groups, message) -> None:
        layer = self._get_layer()
        payload = self.serialize(message)
        by_shard: dict = defaultdict(list)
        for group in groups:
            channel = layer._get_group_channel_name(group)
            by_shard[layer._get_shard(channel)].append(channel)
        for shard, channels in by_shard.items():
            # The shard's own lock and client, as its `publish` takes them (channels_redis 4.3).
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel in channels:
                    pipe.publish(channel, payload)
                await pipe.execute()


async def send_to_groups(layer, groups, event: dict) -> None:
    """One event to several groups: in one go where the layer can, else to each group at once."""
    many = getattr(layer, "group_send_many", None)
    if many is not None:
        await many(list(groups), event)
    elif len(groups) == 1:
        await layer.group_send(groups[0], event)
    else:
        await asyncio.gather(*(layer.group_send(g, event) for g in groups))


def coalesce(emitted) -> list[tuple[list[str], dict]]:
    """Group consecutive (group, event) pairs that share one event object: `emit_to` sent it to several groups."""
    batches: list[tuple[list[str], dict]] = []
    for group, event in emitted:
        if batches and batches[-1][1] is event:
            batches[-1][0].append(group)
        else:
            batches.append(([group], event))
    return batches
