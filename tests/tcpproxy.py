"""A TCP proxy a test runs in its own event loop, to make a backing service refuse connections on cue.

Used in front of the shared PostgreSQL so that a test can take "the
database" away from the Daphne processes without touching the real server.
"""
from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_port: int):
        self.target = (target_host, target_port)
        self.port = listen_port
        self.server: asyncio.AbstractServer | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> "TcpProxy":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def refuse(self) -> None:
        """Stop listening (new connections are refused) and cut every open connection."""
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for writer in list(self.links):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.links.clear()
        if server is not None:
            await server.wait_closed()

    async def resume(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.refuse()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.tasks.add(asyncio.current_task())
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.links -= {writer, up_writer}
            self.tasks.discard(asyncio.current_task())
