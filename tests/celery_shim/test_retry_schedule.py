"""The retry schedule of each Celery retry option combination, asserted against Celery's
own ``get_exponential_backoff_interval`` for attempts 1-10 (celery is installed)."""

from __future__ import annotations

import random

import pytest
from celery.utils.time import get_exponential_backoff_interval

from lexigram_compat import RetryPolicy
from lexigram_compat.celery.options import task_options

COMBINATIONS = [
    {"retry_backoff": True},
    {"retry_backoff": True, "retry_jitter": False},
    {"retry_backoff": 2, "retry_jitter": False},
    {"retry_backoff": 3, "retry_backoff_max": 20},
    {"retry_backoff": 5, "retry_backoff_max": 60, "retry_jitter": False},
    {"retry_backoff": 0.5, "retry_jitter": False},  # Celery: int(max(1.0, 0.5)) == 1
    {"retry_backoff": True, "retry_backoff_max": 0, "retry_jitter": False},
]


def celery_countdown(options: dict[str, object], retries: int) -> int:
    """What Celery's autoretry computes for ``self.request.retries == retries``."""
    factor = int(max(1.0, float(options["retry_backoff"])))  # type: ignore[arg-type]
    maximum = int(options.get("retry_backoff_max", 600))  # type: ignore[call-overload]
    return int(
        get_exponential_backoff_interval(
            factor=factor,
            retries=retries,
            maximum=maximum,
            full_jitter=bool(options.get("retry_jitter", True)),
        )
    )


@pytest.mark.parametrize("options", COMBINATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_the_shims_schedule_is_celerys_for_attempts_1_to_10(options: dict[str, object]) -> None:
    policy = task_options("test", dict(options, max_retries=10)).policy()
    assert policy.max_attempts == 11
    for attempt in range(1, 11):
        for seed in range(20):  # the same draws of the module's generator, as Celery makes them
            random.seed(seed)
            expected = celery_countdown(options, retries=attempt - 1)
            random.seed(seed)
            assert policy.delay_for(attempt) == expected, (attempt, seed)
        low, high = policy.delay_bounds(attempt)
        assert high == celery_countdown({**options, "retry_jitter": False}, retries=attempt - 1)
        assert low == (0.0 if options.get("retry_jitter", True) else high)


def test_full_jitter_draws_every_whole_second_from_zero_to_the_countdown() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, backoff_factor=2.0, max_delay=600.0, jitter="full")
    draws = {policy.delay_for(3) for _ in range(400)}
    assert draws == {0.0, 1.0, 2.0, 3.0, 4.0}


def test_without_backoff_a_retry_waits_default_retry_delay() -> None:
    policy = task_options("test", {"default_retry_delay": 7, "max_retries": 2}).policy()
    assert [policy.delay_for(n) for n in (1, 2)] == [7.0, 7.0]
    assert (policy.max_attempts, policy.retry_on) == (3, ())
    assert task_options("test", {"max_retries": None}).policy().max_attempts == 2**31 - 1


def test_an_unknown_jitter_word_is_refused() -> None:
    with pytest.raises(ValueError, match=r"jitter='half'.*'full' for Celery's full jitter"):
        RetryPolicy(jitter="half")  # type: ignore[arg-type]
