"""Facade jobs an unmodified Celery worker ran: their outcome, read from Celery's result backend.

A facade job consumed by a plain ``celery worker`` (an app of its own registering
a task of the same name, no lexigram import) never reaches the job ledger, so its
record would stay waiting for ever (``get_job`` pending, counted as waiting by
``queues``). The ledger stays the facade's record; what only Celery saw is read
where Celery keeps it, its result backend, when the app has one
(``extra.celery.settings.result_backend``, the backend the plain workers use):

- ``get_job`` of a waiting record reads the job's task meta; ``count`` first
  reads those of every waiting record of the queue (at most once a second per
  queue), in batches (one ``MGET`` per batch on a key-value backend such as Redis);
- a ``SUCCESS`` completes the record with its result, a ``FAILURE`` fails it with
  Celery's exception as the last error (no dead letter: the plain worker kept
  none), a ``REVOKED`` cancels it; other states leave it waiting.

Settling goes through the ledger's own transitions, so a record a facade worker
settled meanwhile is not touched (the ledger refuses a second outcome). Task
events were the other candidate; they need a listener running at the moment the
plain worker finishes (and ``-E`` on every old worker), where the backend keeps
the outcome until ``result_expires``. Without a result backend, nothing is read;
a backend that cannot be read leaves the ledger's answer as it is (logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from celery.backends.base import DisabledBackend, KeyValueStoreBackend

from lexigram_compat.adapters.redis_ledger import WAITING_STATUSES
from lexigram_compat.config import redact_text
from lexigram_compat.outcomes import qualified_name

if TYPE_CHECKING:
    from celery import Celery

    from lexigram_compat.adapters.redis_ledger import RedisLedger, StateCall

__all__ = ["ForeignResults"]

log = logging.getLogger("lexigram_compat.celery")

BATCH = 500
"""Waiting jobs whose task metas are read in one backend call."""
QUEUE_PASS_INTERVAL = 1.0
"""Seconds between two passes over one queue's waiting jobs (``queues`` counts a
queue once per status: one pass serves them all)."""


def _error_of(result: Any) -> str:
    """Celery's stored exception (``{exc_type, exc_message, exc_module}``) as the
    ledger's last error, ``module.Type: message`` (builtins without their module)."""
    if isinstance(result, BaseException):  # a non key-value backend decodes it
        return f"{qualified_name(type(result))}: {result}"
    if not isinstance(result, dict):
        return f"celery: {result}"
    name = str(result.get("exc_type") or "Exception")
    module = result.get("exc_module")
    if module and module != "builtins":
        name = f"{module}.{name}"
    message = result.get("exc_message")
    if isinstance(message, list | tuple):
        message = message[0] if len(message) == 1 else ", ".join(map(str, message))
    return f"{name}: {message}"


class ForeignResults:
    """Reads Celery's result backend for jobs the ledger saw no worker settle."""

    def __init__(self, native: Celery) -> None:
        self.native = native
        self._passes: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        """Whether the app has a result backend to read."""
        return bool(self.native.conf.result_backend)

    async def settle(self, ledger: RedisLedger, job_ids: Sequence[str]) -> int:
        """Settle the given waiting jobs whose task meta is final; how many were."""
        if not job_ids or not self.enabled:
            return 0
        try:
            metas = await asyncio.to_thread(self._metas, list(job_ids))
        except Exception as exc:  # the ledger's answer stands; the next read tries again
            log.warning(
                "could not read Celery's result backend: %s: %s", type(exc).__name__, redact_text(str(exc))
            )
            return 0
        calls: list[StateCall[bool]] = []
        for job_id, meta in zip(job_ids, metas, strict=True):
            call = self._transition(ledger, job_id, meta)
            if call is not None:
                calls.append(call)
        if not calls:
            return 0
        settled = sum(await ledger.run_many(calls))
        if settled:
            log.info("%d job(s) settled from Celery's result backend (run by other Celery workers)", settled)
        return settled

    async def settle_queue(self, ledger: RedisLedger, queue: str) -> None:
        """Settle the waiting jobs of ``queue`` that other Celery workers finished."""
        now = time.monotonic()
        if not self.enabled or now - self._passes.get(queue, -QUEUE_PASS_INTERVAL) < QUEUE_PASS_INTERVAL:
            return
        self._passes[queue] = now
        for status in WAITING_STATUSES:
            batch: list[str] = []
            async for member in ledger.client.zscan_iter(ledger.calls.index_key(queue, status), count=BATCH):
                batch.append(member[0].decode() if isinstance(member[0], bytes) else str(member[0]))
                if len(batch) >= BATCH:
                    await self.settle(ledger, batch)
                    batch = []
            await self.settle(ledger, batch)

    def _metas(self, job_ids: list[str]) -> list[dict[str, Any] | None]:
        """The raw task metas (exceptions left as Celery stored them: nothing imported)."""
        backend = self.native.backend
        if isinstance(backend, DisabledBackend):
            return [None] * len(job_ids)
        if isinstance(backend, KeyValueStoreBackend):
            values = backend.mget([backend.get_key_for_task(job_id) for job_id in job_ids])
            return [None if value is None else backend.decode(value) for value in values]
        return [backend.get_task_meta(job_id) for job_id in job_ids]  # one call per job

    @staticmethod
    def _transition(ledger: RedisLedger, job_id: str, meta: dict[str, Any] | None) -> StateCall[bool] | None:
        state = (meta or {}).get("status")
        result = (meta or {}).get("result")
        if state == "SUCCESS":
            try:
                json.dumps(result)
            except (TypeError, ValueError):
                result = repr(result)  # a result another serializer allowed: kept as text
            return ledger.calls.complete(job_id, result)
        if state == "FAILURE":
            return ledger.calls.fail(job_id, _error_of(result))
        if state == "REVOKED":
            return ledger.calls.cancel(job_id)
        return None
