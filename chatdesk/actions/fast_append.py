"""One SQL statement (one round trip, autocommitted) for the common message: an open conversation, a new client_id.

`post_shopper_message` and `post_agent_message` try this first on PostgreSQL.
The statement bumps the conversation's `seq` and inserts the message
together, under the conversation's row lock, and only when every rule of the
ORM path holds (the conversation is open and the sender's, the agent still
serves its site, the client_id is new). When any rule fails it changes
nothing and returns None, and the caller takes the ORM path, which finds the
earlier message or names the refusal. A retry racing its original in the
same conversation hits the unique (conversation, client_id) constraint: the
statement fails whole (no seq is used up) and the ORM path returns the first.
"""
from __future__ import annotations

from django.db import IntegrityError, connection
from django.utils import timezone

from ..models import Conversation, Message, Visitor

_SQL = """
WITH conv AS (
    UPDATE {conv} c
       SET last_seq = c.last_seq + 1,
           last_message_at = %(now)s,
           first_agent_message_at = CASE WHEN %(is_agent)s THEN COALESCE(c.first_agent_message_at, %(now)s)
                                         ELSE c.first_agent_message_at END
     WHERE c.id = %(conversation_id)s AND {rule}
 RETURNING c.id, c.last_seq, c.agent_id, c.site_id, c.visitor_id, c.team_id
), msg AS (
    INSERT INTO {msg} (conversation_id, seq, sender, author_id, author_name, text, client_id, created_at)
    SELECT conv.id, conv.last_seq, %(sender)s, %(author_id)s, {author_name}, %(text)s, %(client_id)s, %(now)s
      FROM conv
 RETURNING id, seq, author_name
)
SELECT msg.id, msg.seq, msg.author_name, conv.id, conv.agent_id, conv.site_id, conv.visitor_id, v.public_id,
       conv.team_id
  FROM msg CROSS JOIN conv JOIN {visitor} v ON v.id = conv.visitor_id
"""


def _tables() -> dict:
    from agents.models import AgentProfile

    return {
        "conv": Conversation._meta.db_table, "msg": Message._meta.db_table, "visitor": Visitor._meta.db_table,
        "profile": AgentProfile._meta.db_table, "profile_sites": AgentProfile.sites.through._meta.db_table,
    }


def _shopper_sql() -> str:
    t = _tables()
    # The client_id is unique per visitor for shopper messages (as in the ORM path), so look across their conversations.
    rule = (
        "c.visitor_id = %(visitor_id)s AND c.status IN ('queued', 'active') AND NOT EXISTS ("
        f"SELECT 1 FROM {t['msg']} m JOIN {t['conv']} c2 ON c2.id = m.conversation_id "
        "WHERE c2.visitor_id = %(visitor_id)s AND m.client_id = %(client_id)s AND m.sender = 'shopper')"
    )
    return _SQL.format(rule=rule, author_name="''", **t)


def _agent_sql() -> str:
    t = _tables()
    rule = (
        "c.agent_id = %(author_id)s AND c.status = 'active' "
        f"AND NOT EXISTS (SELECT 1 FROM {t['msg']} m WHERE m.conversation_id = c.id AND m.client_id = %(client_id)s) "
        f"AND EXISTS (SELECT 1 FROM {t['profile']} p JOIN {t['profile_sites']} s ON s.agentprofile_id = p.id "
        "WHERE p.user_id = %(author_id)s AND s.site_id = c.site_id)"
    )
    author = f"(SELECT p.display_name FROM {t['profile']} p WHERE p.user_id = %(author_id)s)"
    return _SQL.format(rule=rule, author_name=author, **t)


_statements: dict[str, str] = {}


def available() -> bool:
    """Only on PostgreSQL (writable CTEs), and only outside a caller's transaction (autocommit is the commit)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _statement(kind: str, conversation_id: int, client_id: str, text: str, visitor_id, author_id):
    sql = _statements.get(kind)
    if sql is None:
        sql = _statements[kind] = _shopper_sql() if kind == Message.SHOPPER else _agent_sql()
    params = {
        "now": timezone.now(), "is_agent": kind == Message.AGENT, "conversation_id": conversation_id,
        "sender": kind, "author_id": author_id, "visitor_id": visitor_id, "text": text, "client_id": client_id,
    }
    return sql, params


def _stored(row, params: dict) -> tuple[Message, Conversation]:
    msg_id, seq, author_name, conv_id, agent_id, site_id, visitor_pk, public_id, team_id = row
    # team_id: an unassigned conversation's messages go to its team's agents only (events.conversation_audience).
    conv = Conversation(id=conv_id, agent_id=agent_id, site_id=site_id, visitor_id=visitor_pk, last_seq=seq,
                        team_id=team_id)
    conv.visitor = Visitor(id=visitor_pk, site_id=site_id, public_id=public_id)
    msg = Message(id=msg_id, conversation_id=conv_id, seq=seq, sender=params["sender"], author_id=params["author_id"],
                  author_name=author_name or "", text=params["text"], client_id=params["client_id"],
                  created_at=params["now"])
    return msg, conv


def append(kind: str, conversation_id: int, client_id: str, text: str, visitor_id: int | None = None,
           author_id: int | None = None) -> tuple[Message, Conversation] | None:
    """Store one message in one statement; None when the ORM path must decide (and nothing was changed)."""
    sql, params = _statement(kind, conversation_id, client_id, text, visitor_id, author_id)
    try:
        with connection.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
    except IntegrityError:
        # A concurrent twin with the same client_id won; the statement left no trace.
        return None
    return None if row is None else _stored(row, params)


async def append_async(kind: str, conversation_id: int, client_id: str, text: str, visitor_id: int | None = None,
                       author_id: int | None = None) -> tuple[Message, Conversation] | None:
    """`append` on the event loop (chatdesk.asyncdb); None also when that connection fails.

    Every None sends the caller to the thread path, which finds the earlier
    message, names the refusal, or reports the database as unavailable.
    """
    import psycopg

    from .. import asyncdb

    sql, params = _statement(kind, conversation_id, client_id, text, visitor_id, author_id)
    try:
        async with asyncdb.connection() as conn:
            try:
                cur = await conn.execute(sql, params)
            except psycopg.errors.UniqueViolation:
                return None  # a concurrent twin won, as in `append`; the connection is still good
            row = await cur.fetchone()
    except psycopg.Error:
        return None
    return None if row is None else _stored(row, params)


__all__ = ["available", "append", "append_async"]
