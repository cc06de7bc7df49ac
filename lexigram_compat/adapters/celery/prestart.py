"""An attempt's start recorded with the delivery of its message (Celery on Redis).

kombu's Redis transport records every message it delivers as unacknowledged
(``ZADD`` to its unacked index, ``HSET`` to its unacked hash: one Redis call on
the consumer's thread, before Celery sees the message). When the job ledger
lives in the broker's Redis, the ledger's ``start`` of the attempt does that
record in the same atomic script call
(:class:`~lexigram_compat.adapters.redis_effects.RedisReserve`), so an attempt
costs no Redis round trip of its own before it runs; the pool thread that runs
the job takes the verdict (:func:`take`) instead of asking the ledger.

Only where the delivery goes straight to a pool thread: a ``threads`` or ``solo``
pool acking through the ledger-aware QoS (jobs in this process, not in prefork
children), one reserved message per pool slot (``worker_prefetch_multiplier``
1, so no started message waits for a thread), and a message Celery runs at once
(a facade task, no ``eta``, no rate limit, not revoked). Any other message is
recorded as kombu records it and its attempt starts on its pool thread.

A delivery started here that Celery then does not run (revoked or expired by
Celery, a malformed body dead-lettered by the consumer) has its verdict dropped
(:func:`drop`) and its record put back to pending; a stopping worker releases
the jobs started here that no thread took (:func:`held`), as it releases the
running ones. A worker that dies between the start and the run has that attempt
counted by the poison-pill rule when the message comes back, as for a worker
lost while its job ran.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram_compat.adapters.redis_effects import RedisReserve
    from lexigram_compat.ledger import StartVerdict

__all__ = ["Starter", "drop", "enable", "forget_all", "held", "start_with_delivery", "take"]

log = logging.getLogger("lexigram_compat.celery")

Starter = Callable[[Any], "tuple[str, Callable[[RedisReserve], StartVerdict]] | None"]
"""For a delivered kombu message: ``(job_id, start)`` where ``start(reserve)``
records the attempt's start and the delivery (a blocking ledger call) and returns
the verdict; None when the message's attempt must start on its pool thread instead."""

_starter: list[tuple[int, Starter]] = []
"""This process's starter (at most one), with the pid that set it."""
_verdicts: dict[str, list[StartVerdict]] = {}
_lock = threading.Lock()


def enable(starter: Starter) -> None:
    """Start the attempts of this process's deliveries with ``starter``."""
    _starter[:] = [(os.getpid(), starter)]


def forget_all() -> None:
    """No more starts here, and none held (a forked child: its parent delivers)."""
    _starter.clear()
    with _lock:
        _verdicts.clear()


def start_with_delivery(message: Any, reserve: Callable[[], RedisReserve]) -> bool:
    """Record ``message``'s delivery (``reserve``) with its attempt's start, the
    verdict kept for :func:`take`; False when not done here (not eligible, or the
    call failed): the caller records the delivery itself."""
    current = _starter[0] if _starter else None
    if current is None or current[0] != os.getpid():
        return False
    try:
        found = current[1](message)
    except Exception:
        log.exception("could not read a delivered message for its start; it starts on its thread")
        return False
    if found is None:
        return False
    job_id, start = found
    try:
        verdict = start(reserve())
    except Exception as exc:
        # Maybe recorded, maybe not: kombu's own record follows (idempotent), and the
        # pool thread's start asks the ledger again, as after any failed start.
        log.warning("job %s: its start with the delivery failed (%s); it starts on its thread",
                    job_id, type(exc).__name__)  # fmt: skip
        return False
    with _lock:
        _verdicts.setdefault(job_id, []).append(verdict)
    return True


def take(job_id: str) -> StartVerdict | None:
    """The verdict of ``job_id``'s delivery started here, once (the oldest first when
    a job was delivered twice); None when its attempt was not started here."""
    if not _verdicts:
        return None
    with _lock:
        verdicts = _verdicts.get(job_id)
        if not verdicts:
            return None
        verdict = verdicts.pop(0)
        if not verdicts:
            del _verdicts[job_id]
        return verdict


def drop(job_id: str) -> StartVerdict | None:
    """Forget ``job_id``'s start made here (Celery will not run that delivery): its
    verdict, for the caller to give the attempt back when it was ``run``."""
    return take(job_id)


def held() -> list[str]:
    """Jobs whose attempt was started here (verdict ``run``) that no pool thread took yet."""
    with _lock:
        return [job_id for job_id, verdicts in _verdicts.items() if any(v.run for v in verdicts)]
