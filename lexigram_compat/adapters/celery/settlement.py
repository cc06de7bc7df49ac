"""How the outcome of one Celery delivery is recorded (:class:`CelerySettlement`),
for :class:`~lexigram_compat.adapters.celery.runtime.CeleryWorker`'s attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lexigram_compat.worker.settle import Settlement

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.engine import CeleryEngine
    from lexigram_compat.adapters.redis_ledger import StateCall
    from lexigram_compat.ledger import Delivery
    from lexigram_compat.outcomes import FailureInfo, RetryLater
    from lexigram_compat.queue import DeadLetter

__all__ = ["CelerySettlement"]


class CelerySettlement(Settlement):
    """How the outcome of one Celery delivery is recorded: the Redis ledger, the
    dead-letter store (and RabbitMQ's ``<queue>.dead`` copy). A retry is Celery's
    own: once the settle step has recorded it, the task body sends it
    (``self.retry(countdown=...)``, read from :attr:`requeue`). What was recorded
    is kept here too, for the task body to tell Celery (its result backend, events
    and log): :attr:`completed` with :attr:`result`, or :attr:`failure`.

    ``guarded=False`` for a message that was never a job of this app (undecodable,
    unknown task): its letter is kept whether or not the ledger has a record."""

    def __init__(
        self, engine: CeleryEngine, delivery: Delivery, *, guarded: bool = True, at_ack: bool = False
    ) -> None:
        self.engine = engine
        self.delivery = delivery
        self.guarded = guarded
        self.at_ack = at_ack
        """A success is recorded by the ack of the message (:mod:`.acking`), not here."""
        self.deferred: StateCall[bool] | None = None
        """The ledger's ``complete`` of a success left for the ack (``at_ack``)."""
        self.requeue: RetryLater | None = None
        """The retry the task body must hand to Celery, once recorded."""
        self.completed = False
        self.result: Any = None
        """The job's (JSON-native) result, once its success was recorded."""
        self.failure: FailureInfo | None = None
        """Why the job was dead-lettered, once recorded."""
        self.error: BaseException | None = None
        """The exception that dead-lettered the job, when this attempt raised it."""
        self._failed = False

    async def complete(self, result: Any) -> bool:
        if self.at_ack:
            # Built now, so a result the ledger cannot store fails here (dead-lettered).
            self.deferred = self.engine.calls.complete(self.delivery.job_id, result)
            self.completed, self.result = True, result
            return True
        accepted = await self.engine.ledger.complete(self.delivery, result)
        if accepted:
            self.completed, self.result = True, result
        return accepted

    async def retry(self, outcome: RetryLater) -> bool:
        accepted = await self.engine.ledger.retry(self.delivery, outcome.run_at, outcome.failure)
        if accepted:
            self.requeue = outcome
        return accepted

    async def dead_letter(self, letter: DeadLetter, failure: FailureInfo) -> bool:
        if not self._failed:  # called again after the store failed: recorded already
            if not await self.engine.ledger.dead_letter(self.delivery, failure) and self.guarded:
                return False
            self._failed = True
        await self.engine.dead_letter_store.add(letter)
        await self.engine.publish_dead_letter(letter)
        self.failure = failure
        return True
