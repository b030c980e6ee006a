"""Visitors: signed tokens, connection bookkeeping, journey and identity."""
from __future__ import annotations

import uuid

from django.core import signing
from django.db import connection
from django.utils import timezone

from .. import hotreads
from ..events import emit, site_agents_group
from .carts import UNREAD
from ..models import Conversation, PageView, Site, Visitor

TOKEN_SALT = "chatdesk.visitor"


def make_visitor_token(visitor: Visitor) -> str:
    return signing.dumps({"s": visitor.site_id, "v": str(visitor.public_id)}, salt=TOKEN_SALT, compress=False)


@hotreads.statement
def _visitor_sql() -> str:
    return f"SELECT * FROM {hotreads.table(Visitor)} WHERE site_id = %s AND public_id = %s"


def visitor_from_token(site: Site, token: str | None) -> Visitor | None:
    """The visitor a token names, or None if it is missing, forged, tampered with or of another site."""
    named = token_public_id(site, token)
    if named is None:
        return None
    try:
        public_id = Visitor._meta.get_field("public_id").get_db_prep_value(uuid.UUID(named), connection)
    except ValueError:
        return None
    visitor = hotreads.first(Visitor, _visitor_sql(), [site.id, public_id])
    if visitor is None:
        return None
    visitor.site = site  # the caller's row: no query later for the site's key or settings
    return visitor


def token_public_id(site: Site, token: str | None) -> str | None:
    """The visitor id a valid token of this site names, checked by signature alone (no query)."""
    if not token or not isinstance(token, str):
        return None
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != site.id or not isinstance(data.get("v"), str):
        return None
    return data["v"]


def resolve_visitor(site: Site, token: str | None) -> tuple[Visitor, str]:
    """The token's visitor, or a new one when it fails verification; returns the visitor and its token."""
    visitor = visitor_from_token(site, token)
    if visitor is None:
        visitor = Visitor.objects.create(site=site, last_seen_at=timezone.now())
        return visitor, make_visitor_token(visitor)
    return visitor, token


@hotreads.statement
def _open_or_last_sql() -> str:
    from agents.models import AgentProfile

    from ..models import Offer

    statuses = ", ".join(f"'{s}'" for s in Conversation.OPEN_STATUSES)
    return (
        f"SELECT c.*, p.display_name AS agent_name, EXISTS (SELECT 1 FROM {hotreads.table(Offer)} o "
        "WHERE o.conversation_id = c.id) AS has_offers "
        f"FROM {hotreads.table(Conversation)} c "
        f"LEFT JOIN {hotreads.table(AgentProfile)} p ON p.user_id = c.agent_id "
        f"WHERE c.visitor_id = %s ORDER BY (c.status IN ({statuses})) DESC, c.created_at DESC LIMIT 1"
    )


def open_or_last_conversation(visitor: Visitor) -> Conversation | None:
    """The visitor's open conversation, else their latest one, with `agent_name` (None while unassigned)
    and `has_offers` (whether any offer was made in it: most have none, and then there is nothing to read).

    Every returning shopper's `hello` asks this, so it is one hand-written
    query: the ORM spent 2.9 ms of CPU compiling and loading the same row
    with its site and agent joined (0.3 ms this way; the storm benchmark
    makes 2,000 of these at once). Open ones sort first.
    """
    conv = hotreads.first(Conversation, _open_or_last_sql(), [visitor.pk])
    if conv is not None and Visitor.site.is_cached(visitor):
        conv.site = visitor.site
    return conv


def mark_connected(visitor: Visitor, delta: int, cart=UNREAD) -> int:
    """Count a widget socket opening (+1) or closing (-1); the time decides whether they have gone.

    Returns the visitor's open sockets after the change. On +1 the caller has
    just read `visitor` (with its site); `hello` also passes the cart it read.
    """
    from agents.at_checkout import announce

    now = timezone.now()
    visitor.connected_sockets = _count_socket(visitor.pk, delta, now)
    visitor.last_seen_at = now
    # The consoles' list of shoppers at checkout shows present shoppers: keep it live. A row built
    # from this object is right when it was just read, or when the shopper left (the row is dropped).
    fresh = delta > 0 or visitor.connected_sockets <= 0
    announce(visitor.pk, visitor=visitor if fresh else None, cart=cart if fresh else UNREAD)
    return visitor.connected_sockets


def _count_socket(visitor_pk: int, delta: int, now) -> int:
    """One statement for the change and the count it leaves (UPDATE ... RETURNING; SQLite has it since 3.35)."""
    qn = connection.ops.quote_name
    at = connection.ops.adapt_datetimefield_value(now)
    sets, params = ["connected_sockets = connected_sockets + %s", "last_seen_at = %s"], [delta, at]
    if delta < 0:
        sets.append("disconnected_at = %s")
        params.append(at)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {qn(Visitor._meta.db_table)} SET {', '.join(sets)} WHERE id = %s "
                       "RETURNING connected_sockets", [*params, visitor_pk])
        row = cursor.fetchone()
    return row[0] if row else 0


def _announce_at_checkout(visitor: Visitor) -> None:
    """Consoles list shoppers at checkout whose widget is connected: keep that list live."""
    from agents.at_checkout import announce

    announce(visitor.pk)


def record_page(visitor: Visitor, url: str, title: str, checkout_step: str | None) -> PageView:
    now = timezone.now()
    view = PageView.objects.create(visitor=visitor, url=url, title=title or "", checkout_step=checkout_step or "")
    updates = {"current_url": url, "current_title": title or "", "last_seen_at": now}
    if checkout_step and checkout_step != visitor.checkout_step:
        updates["checkout_step"] = checkout_step
        updates["step_changed_at"] = now
    Visitor.objects.filter(pk=visitor.pk).update(**updates)
    for key, value in updates.items():
        setattr(visitor, key, value)
    emit(
        site_agents_group(visitor.site_id),
        {
            "type": "page",
            "visitor_id": str(visitor.public_id),
            "url": url,
            "title": title or "",
            "checkout_step": checkout_step,
            "at": view.created_at.isoformat(),
        },
    )
    _announce_at_checkout(visitor)
    return view


def identify(visitor: Visitor, email: str, name: str, phone: str, consent_email: bool, consent_sms: bool) -> Visitor:
    """Record contact details the shopper gave; consent only ever widens here, unsubscribing is elsewhere."""
    changed = []
    for field, value in (("email", email), ("name", name), ("phone", phone)):
        if value and getattr(visitor, field) != value:
            setattr(visitor, field, value)
            changed.append(field)
    if consent_email and not visitor.consent_email:
        visitor.consent_email = True
        changed.append("consent_email")
    if consent_sms and not visitor.consent_sms:
        visitor.consent_sms = True
        changed.append("consent_sms")
    if changed:
        visitor.save(update_fields=changed)
    return visitor
