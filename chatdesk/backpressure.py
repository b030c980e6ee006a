"""Bound what Daphne may hold for a websocket client that stops reading.

An ASGI app's `send` never blocks under Daphne: each frame goes straight to
Twisted's transport, which buffers without limit when the peer does not
read. One stalled browser tab (or a hostile client that asks for resyncs
and never reads them) would then grow the server's memory until it dies.
This module wraps Daphne's send so that a socket whose unsent backlog
exceeds a bound is dropped instead (aborted: a close frame would sit behind
the very backlog the peer is not reading). Nothing is lost by dropping it:
the database is the record, and the client resyncs by `seq` when it
reconnects.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1024 * 1024


def unsent_bytes(protocol) -> int:
    """Bytes written to the protocol's transport that the kernel has not taken yet (plus autobahn's queue)."""
    transport = getattr(protocol, "transport", None)
    # TLS and other wrappers sit on top of the TCP transport that holds the buffer.
    for _ in range(4):
        inner = getattr(transport, "transport", None)
        if inner is None or inner is transport:
            break
        transport = inner
    pending = 0
    if transport is not None:
        buffer = getattr(transport, "dataBuffer", b"") or b""
        pending = len(buffer) - int(getattr(transport, "offset", 0) or 0)
        pending += int(getattr(transport, "_tempDataLen", 0) or 0)
    queue = getattr(protocol, "send_queue", None)
    if queue:
        pending += sum(len(item[0]) for item in queue)
    return max(pending, 0)


def install(limit: int = DEFAULT_LIMIT) -> bool:
    """Wrap Daphne's WebSocketProtocol.serverSend once per process; returns False when Daphne is absent."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - Daphne is a hard dependency today
        return False
    current = getattr(WebSocketProtocol, "_chatdesk_send_limit", None)
    if current is not None:
        WebSocketProtocol._chatdesk_send_limit = limit
        return True
    original = WebSocketProtocol.serverSend

    def serverSend(self, content, binary=False):
        bound = WebSocketProtocol._chatdesk_send_limit
        if bound and self.state == self.STATE_OPEN:
            backlog = unsent_bytes(self)
            if backlog > bound:
                if not getattr(self, "_chatdesk_dropped", False):
                    self._chatdesk_dropped = True
                    log.warning(
                        "dropping websocket %s: %d bytes unsent (limit %d), the client is not reading",
                        self.client_addr, backlog, bound,
                    )
                    self.dropConnection(abort=True)
                return
        return original(self, content, binary)

    WebSocketProtocol.serverSend = serverSend
    WebSocketProtocol._chatdesk_send_limit = limit
    return True
