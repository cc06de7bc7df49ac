"""The one outage rule (``retrying.retry_while_unreachable``): which failures are tried
again, how often, and for how long."""

from __future__ import annotations

import asyncio

import pytest

from lexigram_compat.errors import BrokerUnavailableError
from lexigram_compat.retrying import retry_while_unreachable


class Calls:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


async def test_an_unreachable_server_is_tried_again_until_it_answers() -> None:
    calls = Calls(ConnectionError("refused"), BrokerUnavailableError("down"), OSError(111, "refused"))
    told: list[float] = []
    result = await retry_while_unreachable(
        calls, seconds=5, first_pause=0.01, on_retry=lambda exc, pause, unreachable: told.append(pause)
    )
    assert result == "done"
    assert calls.count == 4
    assert told == [0.01, 0.02, 0.04]  # doubled each time


async def test_the_outage_budget_ends_the_tries_with_the_last_failure() -> None:
    calls = Calls(*[ConnectionError(f"down {n}") for n in range(100)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionError):
        await retry_while_unreachable(calls, seconds=0.3, first_pause=0.05)
    elapsed = loop.time() - started
    # Pauses 0.05, 0.1 fit in 0.3 s; the next (0.2) would not: three tries, 0.15 s asleep.
    assert calls.count == 3
    assert 0.15 <= elapsed < 0.3


async def test_another_failure_is_tried_other_tries_times_in_all() -> None:
    calls = Calls(*[RuntimeError("bug") for _ in range(10)])
    with pytest.raises(RuntimeError):
        await retry_while_unreachable(calls, seconds=5, first_pause=0.001, other_tries=3)
    assert calls.count == 3
    once = Calls(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        await retry_while_unreachable(once, seconds=5, first_pause=0.001)
    assert once.count == 1


async def test_a_refused_value_is_never_tried_again() -> None:
    calls = Calls(ValueError("not storable"))
    with pytest.raises(ValueError, match="not storable"):
        await retry_while_unreachable(calls, seconds=5, first_pause=0.001, other_tries=5)
    assert calls.count == 1
