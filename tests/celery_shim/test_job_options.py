"""Celery's ``expires``, ``compression`` and ``rate_limit`` through the shim (memory
engine, one process): mapped to the neutral options, honoured by the worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from lexigram_compat import JobStatus
from lexigram_compat.celery import Celery
from lexigram_compat.envelope import utcnow


@pytest.fixture
def app() -> Iterator[Celery]:
    shim = Celery("options", broker="memory://", set_as_current=False)
    yield shim
    shim.close()


def test_task_options_reach_the_neutral_task(app: Celery) -> None:
    @app.task(expires=timedelta(minutes=5), compression="zlib", rate_limit="100/m")
    def limited(x: int) -> int:
        return x

    assert limited.neutral.expires == 300.0
    assert limited.neutral.compression == "zlib"
    assert limited.neutral.rate_limit == pytest.approx(100 / 60)
    with pytest.raises(ValueError, match=r"rate_limit='fast' is not a rate; use '10/s'"):
        app.task(rate_limit="fast")(lambda: None)
    with pytest.raises(ValueError, match=r"compression='snappy' is not supported; use one of 'zlib'"):
        app.task(compression="snappy")(lambda: None)
    with pytest.raises(ValueError, match=r"expires=-1 is not valid"):
        app.task(expires=-1)(lambda: None)


def test_apply_async_expires_and_compression_are_honoured_by_the_worker(app: Celery) -> None:
    ran: list[str] = []

    @app.task
    def record(tag: str) -> str:
        ran.append(tag)
        return tag

    expired = record.apply_async(("expired",), expires=utcnow() - timedelta(seconds=1))
    in_time = record.apply_async(("in-time",), expires=60, compression="bzip2")
    squeezed = record.apply_async(("squeezed",), compression="zlib")
    app.tasks_app.run_worker_sync(until_idle=True)

    assert ran == ["in-time", "squeezed"]
    assert (in_time.get(timeout=5), squeezed.get(timeout=5)) == ("in-time", "squeezed")
    assert expired.state == "FAILURE"
    info = app.tasks_app.queue.get_job_sync(expired.id)
    assert info is not None
    assert info.status is JobStatus.FAILED
    assert info.last_error is not None
    assert "JobExpiredError" in info.last_error


def test_rate_limit_spaces_the_starts_in_one_worker(app: Celery) -> None:
    starts: list[float] = []

    @app.task(rate_limit="20/s")
    def tick(i: int) -> None:
        starts.append(time.monotonic())

    for i in range(5):
        tick.delay(i)
    app.tasks_app.run_worker_sync(until_idle=True)

    assert len(starts) == 5
    starts.sort()
    assert starts[-1] - starts[0] >= 4 * 0.05 - 0.05  # four intervals of 1/20 s
