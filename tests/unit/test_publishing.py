"""``adapters.publishing.publish_runs``: every item published once, in runs on threads at
once, each run's outcomes in its items' places."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from lexigram_compat.adapters.publishing import publish_runs


async def test_every_item_is_published_once_in_at_most_runs_runs() -> None:
    published: list[int] = []
    threads: set[str] = set()
    runs: list[list[int]] = []

    def publish_run(run: Sequence[int]) -> list[BaseException | None]:
        threads.add(threading.current_thread().name)
        runs.append(list(run))
        published.extend(run)
        return [None] * len(run)

    with ThreadPoolExecutor(8) as pool:
        outcomes = await publish_runs(pool, publish_run, list(range(100)), 8)
    assert outcomes == [None] * 100
    assert sorted(published) == list(range(100))
    assert len(runs) == 8
    assert 1 <= len(threads) <= 8


async def test_each_run_answers_for_its_own_items() -> None:
    refused = ValueError("refused")

    def publish_run(run: Sequence[int]) -> list[BaseException | None]:
        if 5 in run:
            raise refused  # the whole run failed
        return [refused if item == 6 else None for item in run]

    with ThreadPoolExecutor(4) as pool:
        outcomes = await publish_runs(pool, publish_run, list(range(20)), 4)
    # Item 5 is in run 1 (items 1, 5, 9, 13, 17); item 6 alone failed in run 2.
    assert [i for i, o in enumerate(outcomes) if o is not None] == [1, 5, 6, 9, 13, 17]
    assert all(outcomes[i] is refused for i in (1, 5, 6, 9, 13, 17))


async def test_no_items_publishes_nothing() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert await publish_runs(pool, lambda run: [None] * len(run), [], 8) == []
