"""A job's success recorded by the acknowledgement of its message (Celery on Redis).

With ``acks_late`` Celery acks a task's message after the task returned; on
kombu's Redis transport that ack is one Redis call (``ZREM`` the delivery tag
from the unacked index, ``HDEL`` it from the unacked hash). When the job ledger
lives in the broker's Redis, the ledger's ``complete`` does that ack in the
same atomic script call (:class:`~lexigram_compat.adapters.redis_effects.RedisAck`
with ``sorted``): one round trip per successful job instead of two, as the
Dramatiq-Redis engine does.

The hand-over is per job: the task body, once the settle step accepted the
success, leaves it here (:func:`defer`), and the Redis QoS of :mod:`.guarded_redis`
takes it (:func:`take`) when Celery acks that job's message. Both happen in the
process that consumes the message only with a pool that runs jobs in it
(``threads``, ``solo``; Celery acks from its consumer's event loop); a
``prefork`` child records a success itself. A success whose ack never comes
(the process dies first) was never recorded: the message comes back, the ledger
finds the job running, and the poison-pill rule counts that attempt, as for any
worker lost after its job ran. A success that cannot be recorded with its ack
(tried as the settle step tries an outcome; the acks of one Redis outage share
its bound, as they run one after another on Celery's consumer loop) sends the
message back to its queue at once, as the task body's requeue does for an
outcome it could not record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lexigram_compat.adapters.redis_effects import RedisAck
from lexigram_compat.retrying import Outage, retry_while_unreachable_blocking
from lexigram_compat.worker.settle import LEDGER_OUTAGE_SECONDS, RECORD_BACKOFF, RECORD_TRIES

__all__ = [
    "PendingSuccess",
    "defer",
    "forget_all",
    "pending",
    "record_success",
    "record_with_retries",
    "take",
]

log = logging.getLogger("lexigram_compat.celery")

_pending: dict[str, PendingSuccess] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class PendingSuccess:
    """A job's success to record with the ack of its message."""

    job_id: str
    record: Callable[[RedisAck], bool]
    """Runs the ledger's ``complete`` with the ack; False when the ledger refused it
    as stale (the message is acked all the same)."""


def defer(job_id: str, record: Callable[[RedisAck], bool]) -> None:
    """Leave ``job_id``'s success for the ack of its message."""
    with _lock:
        if job_id in _pending:
            log.warning("job %s: an earlier attempt's success was never recorded (its ack never came: "
                        "the broker connection was lost); this attempt's is", job_id)  # fmt: skip
        _pending[job_id] = PendingSuccess(job_id, record)


def take(job_id: str | None) -> PendingSuccess | None:
    """The success left for ``job_id``, once; None when there is none (a retry, a
    dead letter, a job not run, a message of other code or without an ``id`` header)."""
    if job_id is None or not _pending:
        return None
    with _lock:
        return _pending.pop(job_id, None)


def pending() -> bool:
    """Some success waits for its ack in this process."""
    return bool(_pending)


def forget_all() -> None:
    """Drop every success left (a forked child: the acks happen in its parent)."""
    with _lock:
        _pending.clear()


_OUTAGE = Outage()
"""The current Redis outage of the acks of this process: they run one after another
on Celery's consumer loop, so each waiting the whole bound would stall the consumer
for that bound once per ack left."""


def record_with_retries(
    pending: PendingSuccess, ack: RedisAck, *, seconds: float = LEDGER_OUTAGE_SECONDS
) -> None:
    """Record ``pending`` with ``ack`` (counted from the first failure of the outage,
    for all acks together): see :func:`record_success`."""
    record_success(pending.job_id, lambda: pending.record(ack), seconds=seconds, outage=_OUTAGE)


def record_success(
    job_id: str, record: Callable[[], bool], *, seconds: float = LEDGER_OUTAGE_SECONDS,
    outage: Outage | None = None,
) -> None:  # fmt: skip
    """Record ``job_id``'s success (``record()``, a blocking ledger call) as the settle
    step records an outcome (:func:`~lexigram_compat.retrying.retry_while_unreachable_blocking`):
    tried again while Redis is unreachable for up to ``seconds``, other failures
    :data:`~lexigram_compat.worker.settle.RECORD_TRIES` times; then the error propagates."""

    def told(exc: BaseException, pause: float, unreachable: bool) -> None:
        log.warning("job %s: could not record its success (%s); again in %.1fs",
                    job_id, type(exc).__name__, pause)  # fmt: skip

    accepted = retry_while_unreachable_blocking(
        record, seconds=seconds, first_pause=RECORD_BACKOFF, other_tries=RECORD_TRIES,
        on_retry=told, outage=outage,
    )  # fmt: skip
    if not accepted:
        log.info("job %s: success not recorded (the job was finished already)", job_id)
