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
import time
from collections.abc import Callable
from dataclasses import dataclass

from lexigram_compat.adapters.redis_effects import RedisAck
from lexigram_compat.connection_errors import is_unavailable
from lexigram_compat.worker.settle import LEDGER_OUTAGE_SECONDS, RECORD_BACKOFF, RECORD_TRIES

__all__ = ["PendingSuccess", "defer", "forget_all", "pending", "record_with_retries", "take"]

log = logging.getLogger("lexigram_compat.celery")

MAX_PAUSE = 2.0
"""Longest pause between two tries of a success recorded with its ack."""

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


class _Outage:
    """When the current Redis outage's retries end, shared by every ack of the process:
    acks run one after another on Celery's consumer loop, so each waiting the whole
    bound would stall the consumer for that bound once per ack left."""

    deadline: float | None = None


def record_with_retries(
    pending: PendingSuccess, ack: RedisAck, *, seconds: float = LEDGER_OUTAGE_SECONDS
) -> None:
    """Record ``pending`` with ``ack`` as the settle step records an outcome: tried
    again while Redis is unreachable for up to ``seconds`` (counted from the first
    failure of the outage, for all acks together), other failures
    :data:`~lexigram_compat.worker.settle.RECORD_TRIES` times; then the error propagates."""
    pause = RECORD_BACKOFF
    tries = 0
    while True:
        tries += 1
        try:
            accepted = pending.record(ack)
        except Exception as exc:
            if is_unavailable(exc):
                now = time.monotonic()
                if _Outage.deadline is None:
                    _Outage.deadline = now + seconds
                if now + pause > _Outage.deadline:
                    raise
            elif tries >= RECORD_TRIES:
                raise
            log.warning("job %s: could not record its success (%s); again in %.1fs",
                        pending.job_id, type(exc).__name__, pause)  # fmt: skip
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
            continue
        _Outage.deadline = None
        if not accepted:
            log.info("job %s: success not recorded (the job was finished already)", pending.job_id)
        return
