"""Ledger calls of many concurrent jobs sent together: one round trip per batch.

A worker runs several jobs at once, and each records its start and its outcome
with a call of the ledger script. One call at a time, each pays a round trip
and the client's per-command work; here the calls made while a batch is in
flight wait for it and then leave together as the next one (the Redis ledger
sends a batch as one call of its script's ``many``). A lone call leaves at once
(no added wait), so latency does not grow; under load the round trips per job
fall with the batch size. Each call still gets its own reply (or error), and a
failed call does not stop the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["CallBatcher"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Call(Protocol[T_co]):
    @property
    def args(self) -> tuple[Any, ...]: ...

    @property
    def decode(self) -> Callable[[Any], T_co]: ...


Pipeline = Callable[[Sequence[tuple[Any, ...]]], Awaitable[list[Any]]]
"""Sends the script calls with these arguments in one round trip; a reply per call,
an exception object in place of a call that failed."""


class CallBatcher:
    """Runs script calls on one event loop, batched while a round trip is in flight."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._waiting: list[tuple[_Call[Any], asyncio.Future[Any]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def run(self, call: _Call[T]) -> T:
        """Send ``call`` with the next batch; its decoded reply, or its error."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, future))
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send())
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                # A caller cancelled before its call left never sends it.
                batch = [(call, future) for call, future in self._waiting if not future.done()]
                self._waiting = []
                if batch:
                    await self._send_batch(batch)
        finally:
            self._sending = None

    async def _send_batch(self, batch: list[tuple[_Call[Any], asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._pipeline([call.args for call, _ in batch])
        except Exception as exc:  # the connection: every call of the batch failed alike
            replies = [exc] * len(batch)
        except BaseException as exc:  # cancelled with the loop: so are its callers
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise exc from None
        for (call, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
                continue
            try:
                future.set_result(call.decode(reply))
            except Exception as exc:
                future.set_exception(exc)
