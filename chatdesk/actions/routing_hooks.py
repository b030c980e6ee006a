"""Extension points the routing rules hang on (team rules, automatic assignment)."""
from __future__ import annotations


def conversation_queued(conv) -> None:
    """Called inside the transaction that queued `conv`.

    Routing needs nothing here: the queue rules ran when it was created
    (chatdesk.routing.refresh_priority) and automatic assignment runs after
    commit from `queue.queue_changed`. Kept as a hook for other features.
    """
    return None
