"""``RetryPolicy``: the delay formula of SPEC §2.2, jitter, and the retry decision."""

from __future__ import annotations

import pytest

from lexigram_compat import Abort, Reject, Retry, RetryConfig, RetryPolicy


def _no_jitter(**fields: float) -> RetryPolicy:
    return RetryPolicy(jitter=False, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 32.0), (7, 60.0), (50, 60.0)],
)
def test_delay_follows_the_formula_without_jitter(attempt: int, expected: float) -> None:
    policy = _no_jitter(base_delay=1.0, backoff_factor=2.0, max_delay=60.0)
    assert policy.delay_for(attempt) == expected
    assert policy.delay_bounds(attempt) == (expected, expected)


def test_delay_with_other_base_and_factor() -> None:
    policy = _no_jitter(base_delay=0.5, backoff_factor=3.0, max_delay=100.0)
    assert [policy.delay_for(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.5, 4.5, 13.5, 40.5]
    assert policy.delay_for(6) == 100.0


def test_factor_one_gives_a_constant_delay() -> None:
    policy = _no_jitter(base_delay=7.0, backoff_factor=1.0)
    assert {policy.delay_for(n) for n in range(1, 20)} == {7.0}


def test_zero_base_delay_is_always_zero_even_for_huge_attempts() -> None:
    policy = _no_jitter(base_delay=0.0)
    assert policy.delay_for(1) == 0.0
    assert policy.delay_for(5000) == 0.0


@pytest.mark.parametrize("factor", [2.0, 10.0, 1000.0])
def test_huge_attempt_numbers_are_capped_not_overflowing(factor: float) -> None:
    policy = _no_jitter(base_delay=1.5, backoff_factor=factor, max_delay=42.0)
    assert policy.delay_for(400) == 42.0
    assert policy.delay_for(10_000) == 42.0


def test_true_jitter_draws_from_half_to_full_delay() -> None:
    seen: list[tuple[float, float]] = []

    def fake_uniform(low: float, high: float) -> float:
        seen.append((low, high))
        return low

    policy = RetryPolicy(base_delay=2.0, backoff_factor=2.0, jitter=True, _random=fake_uniform)
    assert policy.delay_bounds(3) == (4.0, 8.0)
    assert policy.delay_for(3) == 4.0
    assert seen == [(4.0, 8.0)]


def test_float_jitter_draws_from_the_documented_interval() -> None:
    policy = RetryPolicy(base_delay=10.0, backoff_factor=1.0, jitter=0.25, _random=lambda lo, hi: hi)
    assert policy.delay_bounds(1) == (7.5, 10.0)
    assert policy.delay_for(1) == 10.0
    full = RetryPolicy(base_delay=10.0, backoff_factor=1.0, jitter=1.0)
    assert full.delay_bounds(1) == (0.0, 10.0)


@pytest.mark.parametrize("jitter", [True, 0.5, 0.1])
def test_real_random_delays_stay_in_bounds(jitter: bool | float) -> None:
    policy = RetryPolicy(base_delay=1.0, backoff_factor=2.0, max_delay=60.0, jitter=jitter)
    for attempt in range(1, 10):
        low, high = policy.delay_bounds(attempt)
        for _ in range(20):
            assert low <= policy.delay_for(attempt) <= high


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_are_numbered_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match=rf"attempt={attempt}"):
        RetryPolicy().delay_for(attempt)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"max_attempts": 0}, "max_attempts=0"),
        ({"base_delay": -1.0}, "base_delay=-1.0"),
        ({"backoff_factor": 0.5}, "backoff_factor=0.5"),
        ({"max_delay": -2.0}, "max_delay=-2.0"),
        ({"jitter": 0.0}, "jitter=0.0"),
        ({"jitter": 1.5}, "jitter=1.5"),
        ({"retry_on": (ValueError, "x")}, "retry_on="),
        ({"abort_on": [KeyError]}, "abort_on="),
    ],
)
def test_invalid_fields_are_rejected_naming_the_value(fields: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match="RetryPolicy") as info:
        RetryPolicy(**fields)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(ValueError, match="max_attempts=0") as info:
        RetryPolicy(max_attempts=0, base_delay=-1.0)
    assert "base_delay=-1.0" in str(info.value)


def test_from_config_copies_every_field() -> None:
    config = RetryConfig(max_attempts=7, base_delay=0.25, backoff_factor=3.0, max_delay=9.0, jitter=0.5)
    policy = RetryPolicy.from_config(config)
    assert policy.describe() == {
        "max_attempts": 7,
        "base_delay": 0.25,
        "backoff_factor": 3.0,
        "max_delay": 9.0,
        "jitter": 0.5,
    }


def test_with_max_attempts_returns_a_copy() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=5.0)
    other = policy.with_max_attempts(9)
    assert (policy.max_attempts, other.max_attempts) == (3, 9)
    assert other.base_delay == 5.0


def test_policies_compare_by_fields_not_by_random_source() -> None:
    assert RetryPolicy(_random=lambda a, b: a) == RetryPolicy()
    assert RetryPolicy(max_attempts=2) != RetryPolicy()


# --- the retry decision -------------------------------------------------------------


def test_failures_retry_until_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    error = RuntimeError("boom")
    assert [policy.should_retry(n, error) for n in (1, 2, 3, 4)] == [True, True, False, False]


def test_single_attempt_policy_never_retries() -> None:
    assert not RetryPolicy(max_attempts=1).should_retry(1, RuntimeError())


def test_retry_on_limits_which_errors_retry() -> None:
    policy = RetryPolicy(max_attempts=5, retry_on=(ConnectionError,))
    assert policy.should_retry(1, ConnectionRefusedError())
    assert not policy.should_retry(1, ValueError())


def test_abort_on_wins_over_retry_on() -> None:
    policy = RetryPolicy(max_attempts=5, retry_on=(LookupError,), abort_on=(KeyError,))
    assert not policy.should_retry(1, KeyError("k"))
    assert policy.should_retry(1, IndexError())


def test_reject_never_retries_and_abort_is_its_alias() -> None:
    policy = RetryPolicy(max_attempts=10)
    assert Abort is Reject
    assert not policy.should_retry(1, Reject())
    assert str(Reject()) == "task rejected the job"
    assert str(Abort("bad input")) == "bad input"


def test_retry_request_retries_even_outside_retry_on_but_consumes_attempts() -> None:
    policy = RetryPolicy(max_attempts=2, retry_on=(ConnectionError,))
    assert policy.should_retry(1, Retry(delay=3))
    assert not policy.should_retry(2, Retry(delay=3))


def test_retry_exception_carries_its_delay_and_message() -> None:
    assert Retry().delay is None
    assert Retry(delay=2.5).delay == 2.5
    assert str(Retry()) == "task asked for a retry"
    assert str(Retry(message="later")) == "later"
    with pytest.raises(ValueError, match=r"Retry\(delay=-1\)"):
        Retry(delay=-1)


def test_retry_carries_its_real_cause_and_an_attempt_budget() -> None:
    cause = LookupError("no such row")
    retry = Retry(delay=2, exc=cause, max_attempts=5)
    assert (retry.delay, retry.exc, retry.max_attempts) == (2, cause, 5)
    assert str(retry) == "retry after LookupError: no such row"
    with pytest.raises(TypeError, match=r"Retry\(exc='oops'\): give the exception"):
        Retry(exc="oops")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Retry\(max_attempts=0\): must be an int >= 1"):
        Retry(max_attempts=0)
