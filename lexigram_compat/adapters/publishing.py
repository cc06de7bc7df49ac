"""Publishing many messages with publisher confirms, several in flight at once.

A confirmed publish waits a round trip for the broker's confirm; one at a time, a
batch waits for each. :func:`publish_in_runs` splits the jobs into up to
``threads`` runs, each published in order by one executor call (a thread hop per
run, not per job; each thread keeps its own channel), so that many confirms are
awaited at once. Used by the Dramatiq and Celery engines on RabbitMQ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

__all__ = ["publish_in_runs"]

T = TypeVar("T")


async def publish_in_runs(
    executor: Executor, publish: Callable[[T], object], items: Sequence[T], threads: int
) -> list[BaseException | None]:
    """``publish(item)`` for every item, in up to ``threads`` runs at once on
    ``executor``. Per item: None once published (confirmed), or the error that
    stopped its run; the items of a run after its failure are not published and
    get the same error."""
    runs = [list(items[i::threads]) for i in range(min(threads, len(items)))]
    loop = asyncio.get_running_loop()
    done = await asyncio.gather(
        *(loop.run_in_executor(executor, _publish_run, publish, run) for run in runs),
        return_exceptions=True,
    )
    outcomes: list[BaseException | None] = [None] * len(items)
    for index, result in enumerate(done):
        per_item = result if isinstance(result, list) else [result] * len(runs[index])
        outcomes[index::threads] = per_item
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
