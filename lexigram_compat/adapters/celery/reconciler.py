"""Celery on a Redis broker: messages a killed worker popped are pushed back.

kombu's Redis transport takes a message off its queue's list (``BRPOP``) and
records it as unacknowledged in a second command; a worker killed between the
two loses the message, while the job's record waits forever (issue 14, finding
2). The engine's producer keeps a copy of each message in the job's record until
the job starts (:class:`~lexigram_compat.adapters.redis_ledger.RedisPush`
``keep_copy``); every Celery worker's main process runs one pass of the ledger's
``reconcile`` every :attr:`MessageReconciler.interval` seconds, which pushes back
the copy of a job that has waited longer than the visibility timeout and that no
broker structure holds (neither its list nor kombu's unacknowledged set), found
so on two passes at least ``interval`` seconds apart.

The record is the source of truth; the passes are one atomic script each, so
several workers may run them. A queue longer than :data:`SCAN` is left for a
pass after its backlog has drained below that (a lost message is then found).
Jobs published by other code (``send_task``, ``self.retry``) have no copy, and a
job whose records live in another Redis than its broker (``state_url``) is not
covered: the copy and the push must be in the broker's Redis.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from lexigram_compat.adapters.redis_ledger import SyncRedisLedger
from lexigram_compat.config import redact_text

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.engine import CeleryEngine

__all__ = ["BATCH", "SCAN", "MessageReconciler"]

log = logging.getLogger("lexigram_compat.celery")

BATCH = 100
"""Oldest waiting jobs per queue and status looked at in one pass."""
SCAN = 10_000
"""List items searched for a copy (from the consuming end); a longer list waits."""


class MessageReconciler:
    """Runs the ledger's ``reconcile`` in a daemon thread of a Celery worker's main process."""

    def __init__(self, engine: CeleryEngine) -> None:
        self.engine = engine
        timeout = engine.settings.visibility_timeout
        self.lease = timeout
        self.interval = max(0.5, min(timeout / 4, 60.0))
        options = engine.settings.transport_options
        prefix = str(options.get("global_keyprefix", ""))
        self.unacked_key = f"{prefix}{options.get('unacked_key', 'unacked')}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Start the passes (once per process)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lexigram-reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        import redis

        client = redis.Redis.from_url(
            self.engine.broker_redis_url(), socket_connect_timeout=4.0, socket_timeout=10.0
        )
        ledger = SyncRedisLedger(client, self.engine.calls)
        try:
            while not self._stop.wait(self.interval):
                self.run_once(ledger)
        finally:
            client.close()

    def run_once(self, ledger: SyncRedisLedger) -> list[str]:
        """One pass over this app's queues; the ids of the jobs pushed back."""
        call = ledger.calls.reconcile(
            self.engine.own_queues(),
            unacked_key=self.unacked_key,
            lease=self.lease,
            batch=BATCH,
            scan=SCAN,
            confirm=self.interval,
        )
        try:
            pushed = ledger.run(call)
        except Exception as exc:  # Redis down: the next pass tries again
            if not self._failing:
                log.warning("lost-message check failed (retrying every %.1fs): %s: %s",
                            self.interval, type(exc).__name__, redact_text(str(exc)))  # fmt: skip
            self._failing = True
            return []
        self._failing = False
        for job_id in pushed:
            log.warning(
                "job %s: its message was on no queue and not being delivered (a worker died while "
                "taking it); pushed it back",
                job_id,
            )
        return pushed
