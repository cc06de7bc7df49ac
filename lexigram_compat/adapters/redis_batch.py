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
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["CallBatcher", "HeldConnection"]

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


class HeldConnection:
    """One connection of ``client``'s pool, kept for a :class:`CallBatcher`'s batches
    (one in flight at a time): a pool checkout per call, with its check that the
    connection holds no stray data, costs a lone call about a quarter of its client
    CPU. A kept connection the server closed meanwhile is opened again before the
    call (as a checkout would); a connection error is retried as the client retries
    its commands; a connection that still fails, or a call cancelled before its reply
    was read, is dropped and the error propagates: the next call takes a new one."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self._connection: Any = None

    async def call(self, *command: Any) -> Any:
        """Send ``command``; its reply (an error reply raised as ``ResponseError``)."""
        from redis.exceptions import ResponseError

        connection = self._connection
        if connection is None:
            pool = self.client.connection_pool
            connection = self._connection = await pool.get_connection()  # type: ignore[no-untyped-call]

        async def send() -> Any:
            await connection.send_command(*command)
            return await connection.read_response()

        async def failed(error: Exception) -> None:
            await connection.disconnect()

        try:
            if _closed_or_dirty(connection):
                # What the pool's checkout checks, read off the loop's stream: the server
                # closed it while it was kept (or it holds stray bytes): open it again.
                await connection.disconnect()
                await connection.connect()
            # The connection's own retry policy, as the client's commands have.
            return await connection.retry.call_with_retry(send, failed)
        except ResponseError:
            raise  # a whole reply was read: the connection is fine
        except BaseException:
            self._connection = None
            with contextlib.suppress(Exception):
                await connection.disconnect()
            await self.client.connection_pool.release(connection)
            raise


def _closed_or_dirty(connection: Any) -> bool:
    """Whether a kept connection's stream saw the server close it, or holds bytes no
    call asked for (the event loop has fed it whatever arrived while it was kept)."""
    reader = getattr(connection, "_reader", None)
    if reader is None:
        return False  # not connected: sending connects it
    return bool(reader.at_eof() or getattr(reader, "_buffer", b""))
