"""``adapters.publishing.publish_in_runs``: every item published once, in runs on
threads at once, a run stopping at its first failure."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from lexigram_compat.adapters.publishing import publish_in_runs


async def test_every_item_is_published_once_in_at_most_threads_runs() -> None:
    published: list[int] = []
    threads: set[str] = set()

    def publish(item: int) -> None:
        threads.add(threading.current_thread().name)
        published.append(item)

    with ThreadPoolExecutor(8) as pool:
        outcomes = await publish_in_runs(pool, publish, list(range(100)), 8)
    assert outcomes == [None] * 100
    assert sorted(published) == list(range(100))
    assert 1 <= len(threads) <= 8


async def test_a_failure_stops_its_run_and_marks_the_rest_of_it() -> None:
    refused = ValueError("refused")

    def publish(item: int) -> None:
        if item == 5:
            raise refused

    with ThreadPoolExecutor(4) as pool:
        outcomes = await publish_in_runs(pool, publish, list(range(20)), 4)
    # Item 5 is in run 1 (items 1, 5, 9, 13, 17): 5 and the rest of that run fail.
    assert [i for i, o in enumerate(outcomes) if o is not None] == [5, 9, 13, 17]
    assert all(outcomes[i] is refused for i in (5, 9, 13, 17))


async def test_no_items_publishes_nothing() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert await publish_in_runs(pool, lambda item: None, [], 8) == []
