"""The ledger's ``start`` of a Celery attempt, run on the pool thread that runs it.

The task body runs on one of Celery's pool threads and blocks there until its
attempt is settled on the process's event loop. Its first ledger call, the
start, is made on that thread with a blocking Redis client before the attempt
goes to the loop (the same script call, sent before the task's code runs, as
on the loop), so the loop does not pay an asyncio round trip for it.
:class:`FirstStart` hands that answer (or its error) to the settle step's
``start`` as the ledger's first answer: a try the settle step makes again (an
unreachable ledger, with backoff) goes to the ledger on the loop as before.
Done on a Redis broker (a ``threads`` pool's jobs arrive one per ``BRPOP`` and
hardly overlap) for the messages whose start was not made with their delivery
(:mod:`.prestart`), and in ``prefork`` children (one job at a time); on RabbitMQ a
thread pool's jobs arrive together and their starts share round trips on the
loop (:mod:`~lexigram_compat.adapters.redis_batch`), which a start per thread
would give up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeAlias

from lexigram_compat.adapters.redis_ledger import SyncRedisLedger
from lexigram_compat.ledger import AttemptRecords, StartVerdict

if TYPE_CHECKING:
    from datetime import datetime

    from lexigram_compat.adapters.celery.engine import CeleryEngine
    from lexigram_compat.envelope import JobEnvelope
    from lexigram_compat.ledger import Delivery
    from lexigram_compat.outcomes import FailureInfo

__all__ = ["BlockingLedger", "FirstAnswer", "FirstStart"]

FirstAnswer: TypeAlias = StartVerdict | Exception
"""What the pool thread's ``start`` got: the verdict, or the error it raised."""


_INHERITED: list[SyncRedisLedger] = []


class BlockingLedger:
    """The engine's job ledger on a blocking ``redis`` client, for threads that own no
    loop (pool threads' starts and acks, publishing threads' records): one client per
    process (a forked child makes its own, never using its parent's)."""

    def __init__(self, engine: CeleryEngine) -> None:
        self.engine = engine
        self._held: tuple[int, SyncRedisLedger] | None = None

    def __call__(self) -> SyncRedisLedger:
        pid = os.getpid()
        if self._held is None or self._held[0] != pid:
            import redis

            if self._held is not None:
                _INHERITED.append(self._held[1])  # the parent's sockets: never closed here

            backend = self.engine.backend
            url = (backend.state_url or backend.redis_url).get_secret_value()
            client = redis.Redis.from_url(url, socket_connect_timeout=4.0, socket_timeout=10.0)
            self._held = (pid, SyncRedisLedger(client, self.engine.calls))
        return self._held[1]

    def close(self) -> None:
        """Close this process's client (an inherited one is left to the parent)."""
        held, self._held = self._held, None
        if held is not None and held[0] == os.getpid():
            held[1].client.close()


class FirstStart(AttemptRecords):
    """``ledger``, except that its first ``start`` answers ``first`` (raised when an error)."""

    def __init__(self, ledger: AttemptRecords, first: FirstAnswer) -> None:
        self.ledger = ledger
        self._first: FirstAnswer | None = first

    async def start(self, delivery: Delivery, envelope: JobEnvelope) -> StartVerdict:
        first, self._first = self._first, None
        if first is None:
            return await self.ledger.start(delivery, envelope)
        if isinstance(first, Exception):
            raise first
        return first

    async def complete(self, delivery: Delivery, result: Any) -> bool:
        return await self.ledger.complete(delivery, result)

    async def retry(self, delivery: Delivery, run_at: datetime, failure: FailureInfo) -> bool:
        return await self.ledger.retry(delivery, run_at, failure)

    async def dead_letter(self, delivery: Delivery, failure: FailureInfo) -> bool:
        return await self.ledger.dead_letter(delivery, failure)

    async def release(self, delivery: Delivery) -> bool:
        return await self.ledger.release(delivery)
