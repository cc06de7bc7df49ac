"""One rule for riding out an outage: try a call again with backoff while the broker or
the job ledger is unreachable, for a bounded time.

The settle step uses it for a delivery's start and each recording step, the Redis ledger
for undoing a create whose reply was lost, and the Celery worker for the outcomes its pool
threads record with a blocking client (:func:`retry_while_unreachable_blocking`): one rule
(:func:`_may_retry`), awaited or blocking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lexigram_compat.connection_errors import is_unavailable
from lexigram_compat.errors import BrokerUnavailableError

__all__ = ["MAX_PAUSE", "Outage", "retry_while_unreachable", "retry_while_unreachable_blocking"]

T = TypeVar("T")

MAX_PAUSE = 2.0
"""The longest wait between two tries."""


class Outage:
    """When the tries through one outage end: ``seconds`` after the first try of a call
    (or, shared by the calls of one thread that run one after another, after the first
    failure of the outage, until a call gets through)."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline


def _may_retry(exc: BaseException, *, tries: int, other_tries: int, outage: Outage, now: float,
               seconds: float, pause: float) -> bool | None:  # fmt: skip
    """The rule, for a call that raised ``exc`` on its ``tries``-th try: None when it is
    not tried again (a ``ValueError``, a value the server refused, never is); else
    whether the server was unreachable (tried while ``outage`` lasts: until ``seconds``
    after its start, ``pause`` included) or it failed otherwise (``other_tries`` in all)."""
    if isinstance(exc, ValueError):
        return None
    if isinstance(exc, BrokerUnavailableError) or is_unavailable(exc):
        if outage.deadline is None:
            outage.deadline = now + seconds
        return True if now + pause <= outage.deadline else None
    return False if tries < other_tries else None


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
    outage = Outage(loop.time() + seconds)
    pause = first_pause
    tries = 0
    while True:
        tries += 1
        try:
            return await call()
        except Exception as exc:
            unreachable = _may_retry(exc, tries=tries, other_tries=other_tries, outage=outage,
                                     now=loop.time(), seconds=seconds, pause=pause)  # fmt: skip
            if unreachable is None:
                raise
            if on_retry is not None:
                on_retry(exc, pause, unreachable)
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)


def retry_while_unreachable_blocking(
    call: Callable[[], T],
    *,
    seconds: float,
    first_pause: float,
    other_tries: int = 1,
    on_retry: Callable[[BaseException, float, bool], None] | None = None,
    outage: Outage | None = None,
) -> T:
    """:func:`retry_while_unreachable` for a thread that owns no event loop (it sleeps
    between tries). ``outage``, when given, is shared with the calls before and after
    this one on the same thread: its bound counts from the outage's first failure, and
    a call that gets through ends it; by default each call has its own, from its start."""
    if outage is None:
        outage = Outage(time.monotonic() + seconds)
    pause = first_pause
    tries = 0
    while True:
        tries += 1
        try:
            result = call()
        except Exception as exc:
            unreachable = _may_retry(exc, tries=tries, other_tries=other_tries, outage=outage,
                                     now=time.monotonic(), seconds=seconds, pause=pause)  # fmt: skip
            if unreachable is None:
                raise
            if on_retry is not None:
                on_retry(exc, pause, unreachable)
        else:
            outage.deadline = None
            return result
        time.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)
