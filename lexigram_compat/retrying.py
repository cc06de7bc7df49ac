"""One rule for riding out an outage: try a call again with backoff while the broker or
the job ledger is unreachable, for a bounded time.

The settle step uses it for a delivery's start and each recording step, the Redis ledger
for undoing a create whose reply was lost; both used to carry their own copy of the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lexigram_compat.connection_errors import is_unavailable
from lexigram_compat.errors import BrokerUnavailableError

__all__ = ["MAX_PAUSE", "retry_while_unreachable"]

T = TypeVar("T")

MAX_PAUSE = 2.0
"""The longest wait between two tries."""


async def retry_while_unreachable(
    call: Callable[[], Awaitable[T]],
    *,
    seconds: float,
    first_pause: float,
    other_tries: int = 1,
    on_retry: Callable[[BaseException, float, bool], None] | None = None,
) -> T:
    """``call()``, tried again after ``first_pause`` (doubled each time, at most
    :data:`MAX_PAUSE`): while the server is unreachable, for up to ``seconds``; for any
    other failure ``other_tries`` times in all; a ``ValueError`` (a value the server
    refused) never again. ``on_retry(error, pause, unreachable)`` is told before each wait. Raises
    the last failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pause = first_pause
    tries = 0
    while True:
        tries += 1
        try:
            return await call()
        except ValueError:
            raise
        except Exception as exc:
            unreachable = isinstance(exc, BrokerUnavailableError) or is_unavailable(exc)
            if unreachable:
                if loop.time() + pause > deadline:
                    raise
            elif tries >= other_tries:
                raise
            if on_retry is not None:
                on_retry(exc, pause, unreachable)
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)
