"""Background loops that end when their task is cancelled, whatever the libraries they call do.

redis-py's asyncio client can swallow a cancellation that lands while a
command is in flight: the command returns normally and the task carries on
(redis/redis-py#2028, #2551; reproduced with 7.4.1). A `while True` loop
around such a call then never ends, and whatever waits for it (Daphne's
shutdown, the test runner closing an event loop) waits forever. Python 3.11
still counts the request (`Task.cancelling()`), so these loops ask for it
after every step instead of trusting the exception to arrive.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


def cancel_requested() -> bool:
    """True when someone asked the running task to stop, even if the CancelledError was swallowed."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def repeat(seconds: float, step: Callable[[], Awaitable[object]], *, wait_first: bool = False) -> None:
    """Await `step()` every `seconds` until the task is cancelled; then raise CancelledError."""
    if wait_first:
        await asyncio.sleep(seconds)
    while not cancel_requested():
        await step()
        if cancel_requested():
            break
        await asyncio.sleep(seconds)
    raise asyncio.CancelledError
