"""A Celery-Redis success recorded with the ack of its message (``adapters/celery/acking.py``):
handed over per job, and tried again through a Redis outage whose bound the acks of
the process share (they run one after another on Celery's consumer loop)."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from lexigram_compat.adapters.celery import acking
from lexigram_compat.adapters.redis_effects import RedisAck
from lexigram_compat.worker.settle import RECORD_TRIES

ACK = RedisAck("index", "tag", "hash", sorted=True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("lexigram_compat.retrying.time.monotonic", clock.monotonic)
    monkeypatch.setattr("lexigram_compat.retrying.time.sleep", clock.sleep)
    monkeypatch.setattr(acking._OUTAGE, "deadline", None)
    return clock


def failing(error: Exception, calls: list[RedisAck]) -> acking.PendingSuccess:
    def record(ack: RedisAck) -> bool:
        calls.append(ack)
        raise error

    return acking.PendingSuccess("job", record)


def test_a_success_is_taken_once_by_the_ack_of_its_own_job() -> None:
    acking.defer("a", lambda ack: True)
    assert acking.take("b") is None
    assert acking.take(None) is None
    taken = acking.take("a")
    assert taken is not None
    assert taken.record(ACK)
    assert acking.take("a") is None


def test_an_outage_bound_is_shared_by_the_acks_made_during_it(clock: Clock) -> None:
    calls: list[RedisAck] = []
    with pytest.raises(RedisConnectionError):
        acking.record_with_retries(failing(RedisConnectionError("down"), calls), ACK, seconds=5.0)
    assert len(calls) > 2
    assert clock.now <= 105.0
    # The next ack of the same outage does not wait the whole bound again.
    started, calls[:] = clock.now, []
    with pytest.raises(RedisConnectionError):
        acking.record_with_retries(failing(RedisConnectionError("down"), calls), ACK, seconds=5.0)
    assert (len(calls), clock.now) == (1, started)
    # Redis answers again: the outage is over, the next one has its own bound.
    acking.record_with_retries(acking.PendingSuccess("job", lambda ack: True), ACK, seconds=5.0)
    calls[:] = []
    with pytest.raises(RedisConnectionError):
        acking.record_with_retries(failing(RedisConnectionError("down"), calls), ACK, seconds=5.0)
    assert len(calls) > 2


def test_another_failure_is_tried_as_often_as_the_settle_step_tries(clock: Clock) -> None:
    calls: list[RedisAck] = []
    with pytest.raises(ResponseError):
        acking.record_with_retries(failing(ResponseError("WRONGTYPE"), calls), ACK)
    assert len(calls) == RECORD_TRIES
    assert calls[0] is ACK
