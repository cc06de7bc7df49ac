"""The Dramatiq engine's RabbitMQ classes: with a job ledger, and without one.

``DramatiqEngine(config, backend)`` with ``backend.type: amqp`` builds one of
these (``engine_class("dramatiq", "amqp")`` names the first), because their
capability tables differ from the Redis one: RabbitMQ keeps priority queues,
and without ``backend.state_url`` there are no job records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from lexigram_compat.adapters.redis_ledger import WAITING_STATUSES
from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import ConfigurationError
from lexigram_compat.queue import JobInfo, JobStatus

from .engine import WORKER_COMMAND, DramatiqEngine

log = logging.getLogger("lexigram_compat.dramatiq")

__all__ = ["DramatiqRabbitmqEngine", "StatelessRabbitmqEngine"]


class DramatiqRabbitmqEngine(DramatiqEngine):
    """The Dramatiq engine on RabbitMQ, with a job ledger (``backend.state_url``).

    RabbitMQ keeps its queues in priority order (``x-max-priority`` 255, each
    message's ``priority``), so a higher-priority job runs first among ready ones.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        delay=True,
        priority=True,
        idempotency_keys=True,
        cancel=True,
        job_status=True,
        results=True,
        dead_letters=True,
        transactional_enqueue=False,
        crash_safe=True,
        multi_process=True,
        worker=WORKER_COMMAND,
    )


class StatelessRabbitmqEngine(DramatiqRabbitmqEngine):
    """RabbitMQ without ``backend.state_url``: no job records, so no ``get_job``,
    cancel, results or idempotency keys (refused with a clear error)."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        delay=True,
        priority=True,
        idempotency_keys=False,
        cancel=False,
        job_status=False,
        results=False,
        dead_letters=True,
        transactional_enqueue=False,
        crash_safe=True,
        multi_process=True,
        worker=WORKER_COMMAND,
    )

    _lock_connection: Any = None
    _lock_channel: Any = None

    @property
    def scheduler_lock_queue(self) -> str:
        return f"lexigram.scheduler.{self.backend.queue_name}"

    async def may_schedule(self) -> bool:
        """Only one scheduler at a time: without a shared guard, two would enqueue
        every fire time twice. The lock is an exclusive RabbitMQ queue held by a
        connection of this process (freed when the process ends)."""
        if self._publisher is None:
            return False
        return await asyncio.get_running_loop().run_in_executor(self._publisher, self._take_scheduler_lock)

    def _take_scheduler_lock(self) -> bool:
        """Hold the lock, or take it. A held lock is checked with a round trip each
        time (before every firing): a connection the broker closed still says
        ``is_open`` until it is used, and another scheduler may hold the lock now."""
        import pika  # type: ignore[import-untyped]

        held = self._lock_connection
        if held is not None:
            try:
                self._lock_channel.queue_declare(queue=self.scheduler_lock_queue, passive=True)
                return True
            except Exception:
                log.warning("the scheduler lock %r was lost; taking it again", self.scheduler_lock_queue)
                self._lock_connection = None
                with contextlib.suppress(Exception):
                    held.close()
        parameters = pika.URLParameters(self.settings.url)
        parameters.heartbeat = 0  # held idle for the life of the process
        parameters.client_properties = {
            "connection_name": f"lexigram scheduler lock {self.scheduler_lock_queue}"
        }
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            channel.queue_declare(queue=self.scheduler_lock_queue, exclusive=True, auto_delete=True)
        except pika.exceptions.ChannelClosedByBroker:
            with contextlib.suppress(Exception):
                connection.close()
            return False
        self._lock_connection, self._lock_channel = connection, channel
        return True

    async def enqueue(self, envelopes: Sequence[JobEnvelope], *, connection: Any = None) -> list[str]:
        fires = any(e.fire_key is not None for e in envelopes)
        if fires and not await self.may_schedule():
            raise ConfigurationError(
                f"another scheduler already fires this app's schedules (it holds the RabbitMQ "
                f"queue {self.scheduler_lock_queue!r}); without a job ledger only one may run",
                hint="run a single scheduler (workers with scheduling off), or set backend.state_url "
                "so that any number of schedulers share one guard per fire time",
            )
        return await super().enqueue(envelopes, connection=connection)

    async def close(self) -> None:
        if self._lock_connection is not None and self._publisher is not None:
            lock, self._lock_connection = self._lock_connection, None
            try:
                await asyncio.get_running_loop().run_in_executor(self._publisher, lock.close)
            except Exception:
                log.debug("closing the scheduler lock's connection failed", exc_info=True)
        await super().close()

    async def get_job(self, job_id: str) -> JobInfo | None:
        return None

    async def cancel(self, job_id: str) -> bool:
        return False

    async def count(self, queue: str, status: JobStatus | None) -> int:
        if status is not None and status not in WAITING_STATUSES:
            return 0
        if self._publisher is None:
            return 0
        return await asyncio.get_running_loop().run_in_executor(self._publisher, self._ready, queue)

    def _ready(self, queue: str) -> int:
        broker: Any = self.native
        ready, delayed, _ = broker.get_queue_message_counts(queue)
        return int(ready) + int(delayed)
