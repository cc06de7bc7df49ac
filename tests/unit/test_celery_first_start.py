"""The Celery worker's start made on the pool thread (``adapters/celery/first_start.py``):
the settle step's first ``start`` gets that answer without a ledger call; a try it
makes again goes to the ledger, as before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lexigram_compat.adapters.celery.first_start import FirstStart
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.ledger import AttemptRecords, Delivery, StartVerdict
from lexigram_compat.outcomes import FailureInfo
from lexigram_compat.records import JobStatus


class Ledger(AttemptRecords):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def start(self, delivery: Delivery, envelope: JobEnvelope) -> StartVerdict:
        self.calls.append("start")
        return StartVerdict(True, 2, JobStatus.RUNNING, max_attempts=3)

    async def complete(self, delivery: Delivery, result: Any) -> bool:
        self.calls.append("complete")
        return True

    async def retry(self, delivery: Delivery, run_at: datetime, failure: FailureInfo) -> bool:
        self.calls.append("retry")
        return True

    async def dead_letter(self, delivery: Delivery, failure: FailureInfo) -> bool:
        self.calls.append("dead_letter")
        return True

    async def release(self, delivery: Delivery) -> bool:
        self.calls.append("release")
        return True


JOB = JobEnvelope("j", "t", "q")


async def test_the_first_start_is_the_answer_the_pool_thread_got() -> None:
    ledger = Ledger()
    first = StartVerdict(True, 1, JobStatus.RUNNING, max_attempts=3)
    records = FirstStart(ledger, first)
    assert await records.start(Delivery("j"), JOB) is first
    assert ledger.calls == [], "no second start for the same attempt"
    assert (await records.start(Delivery("j"), JOB)).attempt == 2
    assert await records.complete(Delivery("j"), None)
    assert ledger.calls == ["start", "complete"]


async def test_a_start_that_failed_on_the_pool_thread_fails_once_then_asks_the_ledger() -> None:
    ledger = Ledger()
    records = FirstStart(ledger, ConnectionError("refused"))
    with pytest.raises(ConnectionError, match="refused"):
        await records.start(Delivery("j"), JOB)
    assert (await records.start(Delivery("j"), JOB)).run
    assert ledger.calls == ["start"]
