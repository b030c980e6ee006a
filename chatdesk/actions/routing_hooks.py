"""Extension points the routing rules hang on (team rules, automatic assignment)."""
from __future__ import annotations


def conversation_queued(conv) -> None:
    """Called inside the transaction that queued `conv`; automatic assignment plugs in here."""
    return None
