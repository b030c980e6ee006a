"""PostgreSQL from the event loop, for the one statement every chat message runs.

A message is one SQL statement (chatdesk.actions.fast_append). Run in a
worker thread, it costs a thread hop each way, and under load the event loop
then waits to win the GIL back from the database threads after every socket
write (the saturation profile in bench/results/2026-12-06/analysis.md: 26% of
the loop's busy samples). Here the statement runs on psycopg's async
connection instead, on the loop itself, and the worker threads are left to
the rest of the ORM.

Connections are opened lazily, at most `CHATDESK_ASYNC_DB_CONNECTIONS` (4)
per event loop, in autocommit (the statement is its own transaction, as in
the thread path), and dropped when a statement fails; whoever gets no answer here
takes the thread path, which names the failure. There is no background task
to cancel: a pool is a list of idle connections and a semaphore.
"""
from __future__ import annotations

import asyncio
import os
import weakref
from contextlib import asynccontextmanager

from django.db import connections


def enabled() -> bool:
    """Only on PostgreSQL, and not when turned off (CHATDESK_ASYNC_DB=0)."""
    if os.environ.get("CHATDESK_ASYNC_DB", "1") == "0":
        return False
    return connections["default"].vendor == "postgresql"


class _Pool:
    def __init__(self, size: int):
        self.idle: list = []
        self.slots = asyncio.Semaphore(size)

    async def _connect(self):
        import psycopg

        params = dict(connections["default"].get_connection_params())
        # Django's sync cursor class does not apply here; its adapters context (time zones, JSON) does.
        params.pop("cursor_factory", None)
        params.pop("prepare_threshold", None)  # prepared server-side after a few runs: the statements are fixed
        return await psycopg.AsyncConnection.connect(autocommit=True, **params)

    async def acquire(self):
        await self.slots.acquire()
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        try:
            return await self._connect()
        except BaseException:
            self.slots.release()
            raise

    def release(self, conn, reuse: bool) -> None:
        if reuse and not conn.closed:
            self.idle.append(conn)
        elif not conn.closed:
            conn.pgconn.finish()
        self.slots.release()

    def close_now(self) -> None:
        """Close the idle connections without the loop (tests end a loop per test)."""
        for conn in self.idle:
            conn.pgconn.finish()
        self.idle.clear()


_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@asynccontextmanager
async def connection():
    """An autocommit psycopg AsyncConnection of this event loop's pool."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool(max(1, int(os.environ.get("CHATDESK_ASYNC_DB_CONNECTIONS", "4"))))
    conn = await pool.acquire()
    try:
        yield conn
    except BaseException:
        # A statement cut short (cancelled, connection lost) may leave the
        # connection mid-protocol: never hand it to the next caller.
        pool.release(conn, reuse=False)
        raise
    pool.release(conn, reuse=True)


def close_all() -> None:
    """Close every idle connection of every loop's pool (test teardown; the loops may be closed already)."""
    for pool in list(_pools.values()):
        pool.close_now()
    _pools.clear()
