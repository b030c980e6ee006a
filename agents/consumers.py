"""The agent console's socket `/ws/console/`: a thin door onto chatdesk.actions."""
from __future__ import annotations

from chatdesk.actions import availability, conversations, offers
from chatdesk.errors import ActionError
from chatdesk.events import agent_group, layer_event, site_agents_group, team_agents_group, visitor_group
from chatdesk.frames import CONSOLE_FRAMES
from chatdesk.models import Conversation
from chatdesk.serialize import message_dict, note_dict, offer_dict
from chatdesk.sockets import CLOSE_TRY_LATER, UNAVAILABLE_ERRORS, FrameConsumer, database_sync_to_async, log

from . import presence
from .at_checkout import visitors_at_checkout
from .console_state import context_frame, conversation_detail, initial_state, search_products, sync_frames
from .models import AgentProfile


def _load_profile(user):
    if not user or not user.is_authenticated:
        return None
    return AgentProfile.objects.filter(user=user).select_related("user").first()


def _groups(profile):
    """The agent's own group, their sites' groups and their teams' groups."""
    return (
        [agent_group(profile.user_id)]
        + [site_agents_group(s) for s in profile.sites.values_list("id", flat=True)]
        + [team_agents_group(t) for t in profile.teams.values_list("id", flat=True)]
    )


def _site_ids(profile):
    return list(profile.sites.values_list("id", flat=True))


def _visitors(profile):
    return visitors_at_checkout(_site_ids(profile))


def _typing_target(user, conversation_id):
    conv = Conversation.objects.filter(pk=conversation_id, agent=user).select_related("visitor").first()
    if conv is None:
        raise ActionError("not_assigned", "you can only type in a conversation assigned to you")
    return str(conv.visitor.public_id)


def _invite_target(user, visitor_id: str, text: str):
    from chatdesk.actions.interventions import mark_invited
    from chatdesk.models import Visitor

    visitor = Visitor.objects.filter(public_id=visitor_id, site__agents__user=user).select_related("site").first() \
        if _valid_uuid(visitor_id) else None
    if visitor is None:
        raise ActionError("not_found", "no such visitor on your sites", "visitor_id")
    mark_invited(visitor)
    return str(visitor.public_id), text or "Hi! Can I help you with your order?"


def _valid_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


class ConsoleConsumer(FrameConsumer):
    frame_table = CONSOLE_FRAMES
    # Agents type fast and click a lot; the limits still stop a runaway script.
    rate = 20.0
    burst = 40.0
    count_at_arrival = True  # a reply typed while a claim or transfer was slow is not a burst

    async def connect(self):
        self.user = self.scope.get("user")
        self.profile = await database_sync_to_async(_load_profile)(self.user)
        if self.profile is None:
            await self.close()  # before accept: HTTP 403
            return
        try:
            self.groups_joined = await database_sync_to_async(_groups)(self.profile)
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
            await self.accept()
            self.profile = await self.run(presence.socket_opened, self.profile)
            await self.send_frame(await database_sync_to_async(initial_state)(self.user))
        except UNAVAILABLE_ERRORS as exc:
            log.warning("a backing service is unavailable at a console handshake: %s", exc)
            if not getattr(self, "_accepted", False):
                await super().accept()
            await self.send_error(ActionError("unavailable", "the console cannot connect right now; retrying"))
            await self.close(code=CLOSE_TRY_LATER)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self._accepted = True

    async def console_regroup(self, event):
        """Team or site membership changed: follow the new groups and start over from a fresh `state`."""
        groups = await database_sync_to_async(_groups)(self.profile)
        for group in set(self.groups_joined) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        await self.send_frame(await database_sync_to_async(initial_state)(self.user))

    async def disconnect(self, code):
        if getattr(self, "profile", None) is None:
            return
        try:
            for group in getattr(self, "groups_joined", []):
                await self.channel_layer.group_discard(group, self.channel_name)
            await self.run(presence.socket_closed, self.profile)
        except UNAVAILABLE_ERRORS as exc:
            # Presence also expires by heartbeat, so a missed goodbye heals itself.
            log.warning("could not record a console disconnect: %s", exc)

    async def send_detail(self, detail: dict) -> None:
        self.mark_delivered(detail["messages"])
        await self.send_frame(detail)

    async def frame_claim(self, frame):
        conv = await self.run(conversations.claim, self.user, frame["conversation_id"])
        await self.send_detail(await database_sync_to_async(conversation_detail)(self.user, conv.id))

    async def frame_message(self, frame):
        msg = await self.run_on_loop_or(
            conversations.post_agent_message_on_loop, conversations.post_agent_message,
            self.user, frame["conversation_id"], frame["client_id"], frame["text"],
        )
        ack = message_dict(msg)
        self.mark_delivered([ack])
        await self.send_frame({"type": "ack", "client_id": frame["client_id"], "message": ack})

    async def frame_note(self, frame):
        note, _ = await self.run(
            conversations.add_note, self.user, frame["conversation_id"], frame["client_id"], frame["text"]
        )
        await self.send_frame({"type": "ack", "client_id": frame["client_id"], "note": note_dict(note)})

    async def frame_offer(self, frame):
        offer, _ = await self.run(
            offers.make_offer, self.user, frame["conversation_id"], frame["client_id"], frame["offer"]
        )
        # Serialised in a worker thread: the dict reads the agent, site and catalogue rows.
        payload = await database_sync_to_async(offer_dict)(offer)
        await self.send_frame({"type": "ack", "client_id": frame["client_id"], "offer": payload})

    async def frame_close(self, frame):
        await self.run(conversations.close, self.user, frame["conversation_id"], frame["reason"], frame["note"])

    async def frame_transfer(self, frame):
        await self.run(
            conversations.transfer, self.user, frame["conversation_id"],
            to_agent=frame["to_agent"], to_queue=frame["to_queue"], note=frame["note"],
        )

    async def frame_sync(self, frame):
        frames = await database_sync_to_async(sync_frames)(self.user, frame["conversation_id"], frame["last_seq"])
        self.mark_delivered([f["message"] for f in frames if f["type"] == "message"])
        for out in frames:
            await self.send_frame(out)

    async def frame_context(self, frame):
        await self.send_frame(await database_sync_to_async(context_frame)(self.user, frame["conversation_id"]))

    async def frame_products(self, frame):
        await self.send_frame(await database_sync_to_async(search_products)(self.user, frame["q"], frame["site"]))

    async def frame_visitors(self, frame):
        rows = await database_sync_to_async(_visitors)(self.profile)
        await self.send_frame({"type": "visitors", "visitors": rows})

    async def frame_open(self, frame):
        await self.send_detail(await database_sync_to_async(conversation_detail)(self.user, frame["conversation_id"]))

    async def frame_presence(self, frame):
        self.profile = await self.run(presence.set_presence, self.profile, frame["status"])

    async def frame_typing(self, frame):
        visitor_id = await database_sync_to_async(_typing_target)(self.user, frame["conversation_id"])
        await self.channel_layer.group_send(
            visitor_group(visitor_id),
            layer_event({"type": "typing", "conversation_id": frame["conversation_id"], "active": frame["active"]}),
        )

    async def frame_ping(self, frame):
        await self.run(presence.heartbeat, self.profile)
        await self.send_frame({"type": "pong"})

    async def frame_left_message_done(self, frame):
        await self.run(availability.complete_left_message, self.user, frame["left_message_id"], frame["note"])

    async def frame_invite(self, frame):
        visitor_id, text = await database_sync_to_async(_invite_target)(self.user, frame["visitor_id"], frame["text"])
        await self.channel_layer.group_send(
            visitor_group(visitor_id), layer_event({"type": "prompt", "trigger": "agent_invite", "text": text})
        )
        await self.send_frame({"type": "invited", "visitor_id": visitor_id})
