"""Publishing many messages with publisher confirms, several in flight at once.

A confirmed publish waits a round trip for the broker's confirm; one at a time, a
batch waits for each. :func:`publish_in_runs` splits the jobs into up to
``threads`` runs, each published in order by one executor call (a thread hop per
run, not per job; each thread keeps its own channel), so that many confirms are
awaited at once. A single job goes to one publishing thread whole
(:func:`record_and_publish`): its record written there with the blocking Redis client,
then its message published, one thread hop and no event-loop round trip for the
record. Used by the Dramatiq and Celery engines on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from lexigram_compat.errors import TaskQueueError

if TYPE_CHECKING:
    from lexigram_compat.adapters.redis_ledger import RedisLedger, SyncRedisLedger
    from lexigram_compat.envelope import JobEnvelope

__all__ = [
    "PUBLISH_THREADS", "Recorded", "enqueue_one", "publish_in_runs", "publish_runs", "record_and_publish",
    "withdraw",
]  # fmt: skip

T = TypeVar("T")

log = logging.getLogger("lexigram_compat.publishing")

PUBLISH_THREADS = 8
"""Publishes in flight at once, at most: confirms of concurrent enqueues and of one
``enqueue_many`` overlap. Each thread has its own channel (Dramatiq: a RabbitMQ connection
opened when first needed; Celery: a producer of kombu's pool, within its
``broker_pool_limit`` of 10)."""


async def publish_in_runs(
    executor: Executor, publish: Callable[[T], object], items: Sequence[T], threads: int
) -> list[BaseException | None]:
    """``publish(item)`` for every item, in up to ``threads`` runs at once on
    ``executor``. Per item: None once published (confirmed), or the error that
    stopped its run; the items of a run after its failure are not published and
    get the same error."""
    return await publish_runs(executor, functools.partial(_publish_run, publish), items, threads)


async def publish_runs(
    executor: Executor,
    publish_run: Callable[[Sequence[T]], list[BaseException | None]],
    items: Sequence[T],
    runs: int,
) -> list[BaseException | None]:
    """As :func:`publish_in_runs`, with each run published whole by ``publish_run``
    (one outcome per item of its run, in order): for a publisher that pipelines a run,
    e.g. publishes it all and then waits for every confirm at once."""
    chunks = [list(items[i::runs]) for i in range(min(runs, len(items)))]
    loop = asyncio.get_running_loop()
    done = await asyncio.gather(
        *(loop.run_in_executor(executor, publish_run, chunk) for chunk in chunks),
        return_exceptions=True,
    )
    outcomes: list[BaseException | None] = [None] * len(items)
    for index, result in enumerate(done):
        per_item = result if isinstance(result, list) else [result] * len(chunks[index])
        outcomes[index::runs] = per_item
    return outcomes


def _publish_run(publish: Callable[[T], object], run: Sequence[T]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = []
    for item in run:
        if outcomes and outcomes[-1] is not None:
            outcomes.append(outcomes[-1])  # not published after its run failed
            continue
        try:
            publish(item)
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)
    return outcomes


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_and_publish` did: the job's id (an idempotency key's holder
    when taken), whether its record was new, and the error of its publish (None: the
    broker confirmed it, or nothing was published for a job that existed)."""

    job_id: str
    created: bool
    publish_error: Exception | None = None


def record_and_publish(
    ledger: SyncRedisLedger, envelope: JobEnvelope, token: str, publish: Callable[[JobEnvelope], object]
) -> Recorded:
    """On a publishing thread: the job's record (``create`` with ``token``), then, only
    when it is new, its message (``publish``, confirmed). An error of the record's
    write propagates (nothing was published: the caller settles it as
    :meth:`~lexigram_compat.adapters.redis_ledger.RedisLedger.after_failed_create` says);
    the publish's is returned, for the caller to undo the record."""
    job_id, created = ledger.run(ledger.calls.create(envelope, token=token))
    if not created:
        return Recorded(job_id, False)
    try:
        publish(envelope)
    except Exception as exc:
        return Recorded(job_id, True, exc)
    return Recorded(job_id, True)


async def enqueue_one(
    executor: Executor,
    ledger: RedisLedger,
    sync: SyncRedisLedger,
    envelope: JobEnvelope,
    publish: Callable[[JobEnvelope], object],
) -> Recorded:
    """One job, as the engines on RabbitMQ enqueue it: :func:`record_and_publish` on a
    publishing thread (the blocking Redis client there costs less than a round trip on
    the loop, and one thread hop is paid, not a hop and a loop wake-up). When the record's
    write fails, nothing was published: the record is settled as
    :meth:`~lexigram_compat.adapters.redis_ledger.RedisLedger.after_failed_create` says
    (undone, or :class:`~lexigram_compat.errors.EnqueueOutcomeUnknownError`) and the error
    propagates for the engine to word; a failed publish is in the result, for the engine
    to undo."""
    token = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(executor, record_and_publish, sync, envelope, token, publish)
    except TaskQueueError:
        raise  # already worded, e.g. an outcome the ledger could not tell
    except Exception as exc:
        await ledger.after_failed_create([envelope], [token], exc)
        raise


async def withdraw(ledger: RedisLedger, job_ids: Sequence[str]) -> None:
    """Cancel the jobs a failed ``enqueue_many`` had already published (workers then refuse
    their messages); a warning for each that could not be."""
    for job_id in job_ids:
        try:
            withdrawn = await ledger.cancel(job_id)
        except Exception:
            withdrawn = False
        if not withdrawn:
            log.warning("job %s, published by a failed enqueue_many, could not be withdrawn", job_id)
