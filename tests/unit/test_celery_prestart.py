"""A Celery-Redis attempt started with the record of its delivery
(``adapters/celery/prestart.py``): the verdict is handed to the pool thread that runs
the job, once; a message the starter declines, or whose start fails, is recorded by
kombu's own code and starts on its thread; a stopping worker finds the attempts
started but not yet taken."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from lexigram_compat.adapters.celery import prestart
from lexigram_compat.adapters.redis_effects import RedisReserve
from lexigram_compat.ledger import StartVerdict
from lexigram_compat.queue import JobStatus

RESERVE = RedisReserve("index", "tag", "hash", "message")
RUN = StartVerdict(True, 1, JobStatus.RUNNING)
LOST = StartVerdict(False, 1, JobStatus.RUNNING, lost=True)


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    prestart.forget_all()
    yield
    prestart.forget_all()


def starter(verdicts: dict[str, StartVerdict | Exception], sent: list[RedisReserve]) -> prestart.Starter:
    """Starts the message whose 'id' is in ``verdicts`` (its verdict, or its error)."""

    def start_of(message: Any) -> tuple[str, Callable[[RedisReserve], StartVerdict]] | None:
        job_id = message["id"]
        if job_id not in verdicts:
            return None

        def start(reserve: RedisReserve) -> StartVerdict:
            sent.append(reserve)
            answer = verdicts[job_id]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return job_id, start

    return start_of


def test_nothing_is_started_before_a_starter_is_enabled() -> None:
    assert not prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
    assert prestart.take("a") is None


def test_a_verdict_is_taken_once_by_its_own_job_oldest_first() -> None:
    sent: list[RedisReserve] = []
    prestart.enable(starter({"a": RUN, "b": LOST}, sent))
    assert prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
    assert prestart.start_with_delivery({"id": "b"}, lambda: RESERVE)
    assert sent == [RESERVE, RESERVE]
    assert sorted(prestart.held()) == ["a"], "only attempts started to run are held"
    assert prestart.take("b") == LOST
    assert prestart.take("a") == RUN
    assert prestart.take("a") is None
    assert prestart.held() == []


def test_a_job_delivered_twice_hands_each_delivery_its_verdict() -> None:
    answers: dict[str, StartVerdict | Exception] = {"a": RUN}
    prestart.enable(starter(answers, []))
    assert prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
    answers["a"] = LOST
    assert prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
    assert [prestart.take("a"), prestart.take("a"), prestart.take("a")] == [RUN, LOST, None]


def test_a_declined_message_or_a_failed_start_is_left_to_kombu_and_the_pool_thread() -> None:
    sent: list[RedisReserve] = []
    prestart.enable(starter({"down": RedisConnectionError("down")}, sent))
    assert not prestart.start_with_delivery({"id": "other"}, lambda: RESERVE), "declined"
    assert sent == []
    assert not prestart.start_with_delivery({"id": "down"}, lambda: RESERVE), "failed"
    assert sent == [RESERVE]
    assert prestart.take("down") is None
    assert not prestart.start_with_delivery({}, lambda: RESERVE), "a starter that raises declines"


def test_a_dropped_start_is_given_back_to_its_caller() -> None:
    prestart.enable(starter({"a": RUN}, []))
    assert prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
    assert prestart.drop("a") == RUN
    assert prestart.take("a") is None


def test_a_forked_child_starts_nothing_its_parent_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    prestart.enable(starter({"a": RUN}, []))
    monkeypatch.setattr("lexigram_compat.adapters.celery.prestart.os.getpid", lambda: -1)
    assert not prestart.start_with_delivery({"id": "a"}, lambda: RESERVE)
