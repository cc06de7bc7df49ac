"""``portal.call_in_loop``: the sync twin's wait returns the call's own outcome,
however long the call takes against the wait's liveness checks."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator

import pytest

from lexigram_compat.portal import LoopThread, call_in_loop


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread(name="test-portal")
    yield thread
    thread.stop()


def test_a_call_longer_than_the_liveness_check_returns_its_result(loop_thread: LoopThread) -> None:
    async def slow() -> int:
        await asyncio.sleep(0.35)  # several 0.1 s liveness checks
        return 42

    assert call_in_loop(loop_thread.loop, slow) == 42


def test_the_calls_own_timeout_error_is_raised_as_it_is(loop_thread: LoopThread) -> None:
    async def times_out(after: float) -> None:
        await asyncio.sleep(after)
        raise TimeoutError(f"upstream after {after}")

    for after in (0.0, 0.25):
        with pytest.raises(TimeoutError, match=f"upstream after {after}"):
            call_in_loop(loop_thread.loop, functools.partial(times_out, after))
