"""``lexigram_compat.celery.signals``: Celery's signal names, sent with Celery's keyword
arguments from the lifecycle hooks of the shim's app (memory engine, its own worker)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from lexigram_compat import RetryPolicy, task
from lexigram_compat.celery import Celery, Task, signals
from lexigram_compat.celery.task import Request
from lexigram_compat.registry import TaskRegistry

ALL = [
    signals.before_task_publish,
    signals.after_task_publish,
    signals.worker_init,
    signals.worker_process_init,
    signals.worker_ready,
    signals.task_prerun,
    signals.task_success,
    signals.task_retry,
    signals.task_failure,
    signals.task_postrun,
    signals.worker_process_shutdown,
    signals.worker_shutdown,
]


@pytest.fixture
def app() -> Iterator[Celery]:
    shim = Celery("signals", broker="memory://", set_as_current=False)
    yield shim
    shim.close()


@pytest.fixture
def heard() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    """Every signal's calls: (signal name, sender, keyword arguments)."""
    calls: list[tuple[str, Any, dict[str, Any]]] = []

    def receiver(signal: signals.Signal, sender: Any, **kwargs: Any) -> None:
        calls.append((signal.name, sender, kwargs))

    for signal in ALL:
        signal.connect(receiver)
    yield calls
    for signal in ALL:
        assert signal.disconnect(receiver)


class Flaky(Exception):
    pass


def test_task_signals_carry_celerys_arguments_in_celerys_order(
    app: Celery, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    @app.task(name="sig.add")
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(name="sig.flaky", bind=True, max_retries=1, default_retry_delay=0)
    def flaky(self: Task, until: int) -> int:
        if self.request.retries < until:
            raise self.retry(exc=Flaky(f"run {self.request.retries}"))
        return self.request.retries

    done = add.apply_async((2, 3), headers={"tenant": "t1"})
    retried = flaky.delay(1)
    dead = flaky.delay(5)
    app.tasks_app.run_worker_sync(until_idle=True)

    def of(job_id: str) -> list[str]:
        return [
            name
            for name, sender, kwargs in heard
            if job_id in (kwargs.get("task_id"), kwargs.get("headers", {}).get("id"))
            or getattr(kwargs.get("request"), "id", None) == job_id
            or (name == "task_success" and sender is add and kwargs["result"] == 5 and job_id == done.id)
        ]

    assert of(done.id) == [
        "before_task_publish",
        "after_task_publish",
        "task_prerun",
        "task_success",
        "task_postrun",
    ]
    assert of(retried.id) == [
        "before_task_publish",
        "after_task_publish",
        "task_prerun",
        "task_retry",
        "task_postrun",
        "task_prerun",
        "task_postrun",
    ]  # fmt: skip  (task_success has no task id: matched above for the add job only)
    assert of(dead.id) == [
        "before_task_publish", "after_task_publish",
        "task_prerun", "task_retry", "task_postrun",
        "task_prerun", "task_failure", "task_postrun",
    ]  # fmt: skip

    publish = next(k for n, s, k in heard if n == "before_task_publish" and k["headers"]["id"] == done.id)
    assert publish["headers"]["task"] == "sig.add"
    assert publish["headers"]["tenant"] == "t1"
    assert publish["body"][0] == [2, 3]
    assert publish["routing_key"] == app.tasks_app.queue.backend.queue_name
    sender, prerun = next((s, k) for n, s, k in heard if n == "task_prerun" and k["task_id"] == done.id)
    assert sender is add
    assert (prerun["task"], prerun["args"], prerun["kwargs"]) == (add, (2, 3), {})
    postrun = [(s, k) for n, s, k in heard if n == "task_postrun" and k["task_id"] == done.id]
    assert [(k["retval"], k["state"]) for _, k in postrun] == [(5, "SUCCESS")]
    retry = next(k for n, _, k in heard if n == "task_retry" and k["request"].id == retried.id)
    assert isinstance(retry["request"], Request)
    assert retry["request"].retries == 0
    assert isinstance(retry["reason"], Flaky)
    failure_sender, failure = next((s, k) for n, s, k in heard if n == "task_failure")
    assert failure_sender is flaky
    assert (failure["task_id"], failure["args"]) == (dead.id, (5,))
    assert isinstance(failure["exception"], Flaky)
    assert failure["traceback"] is failure["exception"].__traceback__
    dead_postrun = [k for n, _, k in heard if n == "task_postrun" and k["task_id"] == dead.id]
    assert [k["state"] for k in dead_postrun] == ["RETRY", "FAILURE"]


def test_worker_signals_bracket_the_worker_run(
    app: Celery, heard: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    @app.task(name="sig.noop")
    def noop() -> None:
        return None

    noop.delay()
    heard.clear()
    app.tasks_app.run_worker_sync(until_idle=True)
    names = [name for name, _, _ in heard]
    assert names[:3] == ["worker_init", "worker_process_init", "worker_ready"]
    assert names[-2:] == ["worker_process_shutdown", "worker_shutdown"]
    assert names[3:-2] == ["task_prerun", "task_success", "task_postrun"]


def test_sender_filter_decorators_and_a_raising_receiver(
    app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="sig.one")
    def one() -> int:
        return 1

    @app.task(name="sig.two")
    def two() -> int:
        return 2

    got: list[tuple[str, Any]] = []

    @signals.task_success.connect(sender=two)
    def only_two(sender: Any, result: Any, **_: Any) -> None:
        got.append(("two", result))

    @signals.task_success.connect
    def broken(**_: Any) -> None:
        raise RuntimeError("receiver bug")

    @signals.task_success.connect(sender="sig.one")
    def one_by_name(sender: Any, result: Any, **_: Any) -> None:
        got.append(("one", result))

    caplog.set_level(logging.ERROR, logger="lexigram_compat.celery.signals")
    try:
        first, second = one.delay(), two.delay()
        app.tasks_app.run_worker_sync(until_idle=True)
        assert (first.get(timeout=5), second.get(timeout=5)) == (1, 2), "a raising receiver breaks no job"
    finally:
        assert signals.task_success.disconnect(only_two)
        assert signals.task_success.disconnect(broken)
        assert signals.task_success.disconnect(one_by_name)
    assert sorted(got) == [("one", 1), ("two", 2)]
    failures = [r for r in caplog.records if "task_success receiver" in r.getMessage()]
    assert len(failures) == 2
    assert "broken" in failures[0].getMessage()
    assert not signals.task_success.disconnect(broken), "already disconnected"
    with pytest.raises(TypeError, match="must be callable"):
        signals.task_prerun.connect("nope")  # type: ignore[call-overload]


def test_a_neutral_task_of_the_apps_registry_is_its_signals_sender(
    heard: list[tuple[str, Any, dict[str, Any]]],
) -> None:
    """A project the codemod converted declares neutral @task functions in the registry its
    shim app uses: their signals' sender is that task object (with .name), as a Celery
    task's is, so a receiver filtering on ``sender.name`` keeps working."""
    registry = TaskRegistry()

    @task(name="sig.neutral", registry=registry, retry=RetryPolicy(max_attempts=1))
    def neutral(a: int) -> int:
        if a < 0:
            raise ValueError("negative")
        return a

    shim = Celery("signals-neutral", broker="memory://", set_as_current=False, registry=registry)
    try:
        queue = shim.queue_handle()
        queue.enqueue_sync(neutral(1)).unwrap()
        queue.enqueue_sync(neutral(-1)).unwrap()
        shim.tasks_app.run_worker_sync(until_idle=True)
    finally:
        shim.close()
    # The two jobs run concurrently: which finishes first is not the point here.
    outcomes = sorted(
        ((name, sender) for name, sender, _ in heard if name in ("task_success", "task_failure")),
        key=lambda outcome: outcome[0],
    )
    assert outcomes == [("task_failure", neutral), ("task_success", neutral)]
    assert all(sender.name == "sig.neutral" for _, sender in outcomes)
