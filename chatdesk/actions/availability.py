"""Whether a site can chat now (business hours, agents online), and messages shoppers leave when it cannot.

A left message is a follow-up task: it goes to an online agent of the site
at once if there is one (the one with the fewest open left messages, then
longest since their last assignment), otherwise to the next agent of the
site who comes online, who takes every unassigned one.
"""
from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import hotreads
from ..business_hours import is_open
from ..errors import ActionError
from ..events import emit, site_agents_group, site_visitors_group
from ..models import Conversation, LeftMessage, Site, Visitor
from ..serialize import iso
from ..text import mask_card_numbers

PHONE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")


def agents_online(site: Site) -> int:
    from agents.models import AgentProfile

    # A hot read (chatdesk.hotreads): every hello asks, and the ORM's count cost five times the query.
    with connection.cursor() as cursor:
        cursor.execute(_agents_online_sql(), [site.pk, AgentProfile.ONLINE])
        return cursor.fetchone()[0]


@hotreads.statement
def _agents_online_sql() -> str:
    from agents.models import AgentProfile

    sites = AgentProfile.sites.through
    return (f"SELECT COUNT(*) FROM {hotreads.table(AgentProfile)} p JOIN {hotreads.table(sites)} s "
            "ON s.agentprofile_id = p.id WHERE s.site_id = %s AND p.presence = %s")


def availability(site: Site, now: datetime | None = None) -> dict:
    """`{open, agents_online, reason}`: reason is "closed" outside business hours, "no_agents" when nobody is online."""
    now = now or timezone.now()
    online = agents_online(site)
    if not is_open(site.business_hours, site.timezone, now):
        reason = LeftMessage.CLOSED
    elif online == 0:
        reason = LeftMessage.NO_AGENTS
    else:
        reason = None
    return {"open": reason is None, "agents_online": online, "reason": reason}


def announce_availability(site: Site, now: datetime | None = None) -> dict:
    """Send the site's current availability to every widget of the site (after commit)."""
    frame = {"type": "availability", **availability(site, now)}
    emit(site_visitors_group(site.id), frame)
    return frame


def _clean_contact(email: str, phone: str) -> tuple[str, str]:
    email = (email or "").strip()
    phone = (phone or "").strip()
    if not email and not phone:
        raise ActionError("missing_field", "give an email address or a phone number so that we can answer", "email")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ActionError("invalid_field", "'email' is not a valid email address", "email") from None
    if phone and (not PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 6):
        raise ActionError("invalid_field", "'phone' must be a phone number (digits, spaces, + ( ) - .)", "phone")
    return email, phone


def left_message_dict(m: LeftMessage) -> dict:
    visitor = m.visitor
    return {
        "id": m.id,
        "site": m.site.key,
        "visitor_id": str(visitor.public_id),
        "visitor_name": visitor.display_name,
        "conversation_id": m.conversation_id,
        "text": m.text,
        "email": m.email or None,
        "phone": m.phone or None,
        "reason": m.reason or None,
        "status": m.status,
        "agent": ({"id": m.agent_id, "name": m.agent.agent_profile.display_name}
                  if m.agent_id and hasattr(m.agent, "agent_profile") else None),
        "created_at": iso(m.created_at),
        "assigned_at": iso(m.assigned_at),
        "done_at": iso(m.done_at),
        "done_note": m.done_note or None,
    }


def _emit_left_message(m: LeftMessage) -> None:
    m = LeftMessage.objects.select_related("site", "visitor", "agent__agent_profile").get(pk=m.pk)
    frame = {"type": "left_message", "left_message": left_message_dict(m)}
    emit(site_agents_group(m.site_id), frame)


def leave_message(visitor: Visitor, client_id: str, text: str, email: str = "", phone: str = "",
                  now: datetime | None = None) -> tuple[LeftMessage, bool]:
    """Store a message left for follow-up (an email or a phone is required); a repeated client_id returns the first."""
    email, phone = _clean_contact(email, phone)
    text = mask_card_numbers(text)
    now = now or timezone.now()
    site = visitor.site
    with transaction.atomic():
        Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
        existing = LeftMessage.objects.filter(visitor=visitor, client_id=client_id).first()
        if existing is not None:
            return existing, False
        conv = (
            Conversation.objects.filter(visitor=visitor).order_by("-created_at").values_list("id", flat=True).first()
        )
        state = availability(site, now)
        left = LeftMessage.objects.create(
            site=site, visitor=visitor, conversation_id=conv, client_id=client_id, text=text,
            email=email, phone=phone, reason=state["reason"] or "", created_at=now,
        )
        # Keep what the shopper gave on the visitor too, without touching consent.
        updates = {}
        if email and not visitor.email:
            updates["email"] = email
        if phone and not visitor.phone:
            updates["phone"] = phone
        if updates:
            Visitor.objects.filter(pk=visitor.pk).update(**updates)
            for key, value in updates.items():
                setattr(visitor, key, value)
        _assign_to_someone_online(left, now)
        _emit_left_message(left)
    return left, True


def _assign_to_someone_online(left: LeftMessage, now: datetime) -> None:
    from agents.models import AgentProfile

    candidates = (
        AgentProfile.objects.filter(sites=left.site_id, presence=AgentProfile.ONLINE)
        .annotate(open_left=Count("user__left_messages", filter=Q(user__left_messages__status=LeftMessage.OPEN)))
        .order_by("open_left", "last_assigned_at", "pk")
    )
    # Postgres sorts NULLs last ascending; "never assigned" should come first.
    candidates = sorted(candidates, key=lambda p: (p.open_left, p.last_assigned_at is not None, p.last_assigned_at or now, p.pk))
    if candidates:
        left.agent_id = candidates[0].user_id
        left.assigned_at = now
        left.save(update_fields=["agent", "assigned_at"])


def give_waiting_left_messages(profile, now: datetime | None = None) -> int:
    """An agent just came online: they take every unassigned open left message of their sites."""
    now = now or timezone.now()
    ids = list(
        LeftMessage.objects.filter(site__in=profile.sites.all(), status=LeftMessage.OPEN, agent__isnull=True)
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    # The `agent__isnull` guard makes two agents coming online at once split, not share, the messages.
    taken = LeftMessage.objects.filter(pk__in=ids, agent__isnull=True).update(agent_id=profile.user_id, assigned_at=now)
    for m in LeftMessage.objects.filter(pk__in=ids, agent_id=profile.user_id):
        _emit_left_message(m)
    return taken


def pending_left_messages(profile) -> list[dict]:
    """Open left messages of the agent's sites: theirs and those nobody has yet (for the console `state`)."""
    qs = (
        LeftMessage.objects.filter(site__in=profile.sites.all(), status=LeftMessage.OPEN)
        .filter(Q(agent__isnull=True) | Q(agent_id=profile.user_id))
        .select_related("site", "visitor", "agent__agent_profile")
        .order_by("created_at", "id")
    )
    return [left_message_dict(m) for m in qs[:200]]


def complete_left_message(user, left_message_id: int, note: str = "") -> LeftMessage:
    """Mark a left message followed up; any agent of its site may do it."""
    with transaction.atomic():
        m = LeftMessage.objects.select_for_update().filter(pk=left_message_id).first()
        if m is None or not user.agent_profile.sites.filter(pk=m.site_id).exists():
            raise ActionError("not_found", f"left message {left_message_id} does not exist", "left_message_id")
        if m.status == LeftMessage.DONE:
            return m
        m.status = LeftMessage.DONE
        m.done_at = timezone.now()
        m.done_by = user
        m.done_note = note
        if m.agent_id is None:
            m.agent = user
            m.assigned_at = m.done_at
        m.save(update_fields=["status", "done_at", "done_by", "done_note", "agent", "assigned_at"])
        _emit_left_message(m)
    return m
