"""``@task`` declaration, ``TaskCall`` building, inline runs and ``apply_async``."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

import lexigram_compat.tasks as tasks_module
from lexigram_compat import (
    Container,
    DependencyResolutionError,
    DuplicateTaskError,
    JobStatus,
    Priority,
    RetryPolicy,
    Task,
    TaskCall,
    TaskRegistry,
    TasksApp,
    inject,
)
from lexigram_compat.calls import CallOptions
from lexigram_compat.tasks import task
from lexigram_compat.testing import drain, memory_app

MODULE_REGISTRY = TaskRegistry()


@task(registry=MODULE_REGISTRY)
async def module_level(x: int) -> int:
    return x + 1


class Mailer:
    def __init__(self, sender: str = "container") -> None:
        self.sender = sender


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


# --- declaration --------------------------------------------------------------------


def test_bare_decorator_declares_in_the_default_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated = TaskRegistry()
    monkeypatch.setattr(tasks_module, "default_registry", isolated)

    @task
    async def bare(x: int) -> int:
        return x

    assert isinstance(bare, Task)
    assert isolated.get(bare.name) is bare
    assert bare.is_async
    assert getattr(bare, "__name__", None) == "bare"


def test_called_decorator_with_options(registry: TaskRegistry) -> None:
    policy = RetryPolicy(max_attempts=5)

    @task(name="reports.build", queue="reports", priority=Priority.HIGH, retry=policy, timeout=600,
          registry=registry)  # fmt: skip
    def build_report(report_id: int) -> None:
        return None

    assert registry.names() == ["reports.build"]
    assert (build_report.queue, build_report.priority, build_report.timeout) == ("reports", 10, 600.0)
    assert build_report.retry is policy
    assert not build_report.is_async


def test_default_name_is_module_and_qualname(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def inner() -> None:
        return None

    assert module_level.name == f"{__name__}.module_level"
    assert MODULE_REGISTRY.get(module_level.name) is module_level
    assert inner.name == f"{__name__}.test_default_name_is_module_and_qualname.<locals>.inner"
    assert [int(p) for p in Priority] == [0, 5, 10, 20]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"priority": 256}, "priority=256"),
        ({"priority": -1}, "priority=-1"),
        ({"priority": True}, "priority=True"),
        ({"priority": "high"}, "priority='high'"),
        ({"queue": "bad queue"}, "queue='bad queue'"),
        ({"queue": "x" * 64}, "queue='xxxx"),
        ({"queue": ""}, "queue=''"),
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": -5.0}, "timeout=-5.0"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"max_retries": 2.5}, "max_retries=2.5"),
        ({"name": ""}, "name=''"),
        ({"name": "   "}, "name='   '"),
    ],
)
def test_invalid_options_raise_naming_the_value(
    registry: TaskRegistry, options: dict[str, Any], fragment: str
) -> None:
    def work() -> None:
        return None

    with pytest.raises(ValueError, match="@task on") as info:
        task(registry=registry, **options)(work)
    assert fragment in str(info.value)
    assert len(registry) == 0


@pytest.mark.parametrize(
    ("options", "fragment"), [({"retry": 3}, "retry=3"), ({"idempotency_key": "k"}, "'k'")]
)
def test_wrongly_typed_options_raise_type_error(
    registry: TaskRegistry, options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(TypeError, match="@task on") as info:
        task(registry=registry, **options)(lambda: None)
    assert fragment in str(info.value)


def test_max_retries_sets_the_attempt_budget(registry: TaskRegistry) -> None:
    @task(max_retries=4, registry=registry)
    def flaky() -> None:
        return None

    @task(max_retries=0, retry=RetryPolicy(max_attempts=9, base_delay=3.0), registry=registry)
    def once() -> None:
        return None

    default = RetryPolicy(max_attempts=3, base_delay=7.0)
    assert flaky.policy(default) == default.with_max_attempts(5)
    assert once.policy(default) == RetryPolicy(max_attempts=1, base_delay=3.0)


def test_duplicate_name_for_another_function_is_an_error(registry: TaskRegistry) -> None:
    @task(name="shared", registry=registry)
    def first() -> None:
        return None

    def second() -> None:
        return None

    with pytest.raises(DuplicateTaskError, match="'shared'") as info:
        task(name="shared", registry=registry)(second)
    assert "first" in info.value.message
    assert "second" in info.value.message
    assert registry.get("shared") is first


def test_redefining_the_same_function_replaces_it(registry: TaskRegistry) -> None:
    def declare(version: int) -> Task[[], int]:
        @task(name="versioned", registry=registry)
        def versioned() -> int:
            return version

        return versioned

    old, new = declare(1), declare(2)
    assert old is not new
    assert registry.get("versioned") is new
    assert len(registry) == 1


def test_a_task_in_a_class_body_is_not_bound(registry: TaskRegistry) -> None:
    class Jobs:
        @task(registry=registry)
        @staticmethod
        def ping(x: int) -> int:
            return x

    assert isinstance(Jobs().ping, Task)
    assert Jobs().ping(1) == TaskCall(Jobs.ping.name, (1,))


# --- TaskCall ------------------------------------------------------------------------


def test_calling_returns_a_task_call(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def greet(name: str, punctuation: str = "!") -> str:
        return name + punctuation

    call = greet("ada", punctuation="?")
    assert isinstance(call, TaskCall)
    assert (call.name, call.args, dict(call.kwargs)) == (greet.name, ("ada",), {"punctuation": "?"})
    assert call.call_options == CallOptions()
    assert repr(call) == f"TaskCall({greet.name}('ada', punctuation='?'))"


def test_unknown_keyword_and_too_many_positionals_are_type_errors(registry: TaskRegistry) -> None:
    @task(name="pair", registry=registry)
    def pair(a: int, b: int) -> int:
        return a + b

    with pytest.raises(TypeError, match=r"pair\(\): got an unexpected keyword argument 'c'"):
        pair(1, c=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"pair\(\): too many positional arguments"):
        pair(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        pair.s(1, a=1)


def test_omitted_parameters_are_allowed(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def send(user_id: str, mailer: Mailer) -> None:
        return None

    @task(registry=registry)
    async def notify(user_id: str, mailer: Mailer = inject()) -> None:
        return None

    # Left out at the call site (the container supplies it at execution).
    assert send(user_id="u1").kwargs == {"user_id": "u1"}  # type: ignore[call-arg]
    assert send.s().kwargs == {}
    assert notify("u2").args == ("u2",)


def test_options_return_a_new_call_and_merge(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def work(x: int) -> None:
        return None

    base = work(1)
    delayed = base.options(delay=5, priority=Priority.LOW)
    routed = delayed.options(queue="reports", job_id="job-1", priority=Priority.CRITICAL)
    assert base.call_options == CallOptions()
    assert delayed.call_options == CallOptions(delay=5, priority=0)
    assert routed.call_options == CallOptions(delay=5, queue="reports", priority=20, job_id="job-1")
    assert (routed.name, routed.args) == (base.name, base.args)


def test_s_and_signature_build_the_same_call(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def add(a: int, b: int = 0) -> int:
        return a + b

    assert add.s(1, b=2) == add(1, b=2) == add.signature(1, b=2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        add.signature(z=1)


def test_task_call_constructor_checks_the_name() -> None:
    call = TaskCall("billing.charge", kwargs={"amount": 3})
    assert (call.args, dict(call.kwargs)) == ((), {"amount": 3})
    with pytest.raises(TypeError, match="non-empty str"):
        TaskCall("")


# --- running --------------------------------------------------------------------------


async def test_run_executes_inline_with_dependencies(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def sync_job(x: int, mailer: Mailer = inject()) -> str:
        return f"{x}:{mailer.sender}"

    @task(registry=registry)
    async def async_job(x: int, mailer: Mailer = inject()) -> str:
        return f"{x}:{mailer.sender}"

    container = Container()
    container.register(Mailer, Mailer)
    async with memory_app(registry=registry, container=container):
        assert sync_job.run(1) == "1:container"
        assert await async_job.run(2) == "2:container"
        assert await async_job.run(3, mailer=Mailer("given")) == "3:given"


async def test_run_without_an_app_names_the_missing_parameter(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def needs(mailer: Mailer = inject()) -> None:
        return None

    container = Container()
    container.register(Mailer, Mailer)
    async with memory_app(registry=registry, container=container):
        assert needs.run() is None
    with pytest.raises(DependencyResolutionError, match="'mailer' of type Mailer"):
        needs.run()


async def test_apply_async_enqueues_and_workers_run_sync_tasks_in_a_thread(registry: TaskRegistry) -> None:
    threads: list[str] = []

    @task(registry=registry)
    def double(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x * 2

    async with memory_app(registry=registry) as app:
        job_id = (await double.apply_async(app.queue, 21)).unwrap()
        assert await drain(app, fail_fast=True) == 1
        info = await app.queue.get_job(job_id)
    assert info is not None
    assert (info.status, info.result, info.task_name) == (JobStatus.COMPLETED, 42, double.name)
    assert len(threads) == 1
    assert threads[0] != threading.main_thread().name


def test_apply_async_from_sync_code_raises_at_once_and_creates_no_job(registry: TaskRegistry) -> None:
    @task(registry=registry)
    def triple(x: int) -> int:
        return x * 3

    app = TasksApp.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}}, registry=registry
    )
    app.start_sync()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "coroutine was never awaited" either
            with pytest.raises(TypeError, match=r"called from sync code.*enqueue_sync\(triple\(\.\.\.\)\)"):
                triple.apply_async(app.queue, 1)  # type: ignore[unused-coroutine]  # mypy sees it too
        assert app.queue.count_sync() == 0
        # The fix the message names works.
        job_id = app.queue.enqueue_sync(triple(2)).unwrap()
        assert app.queue.get_job_sync(job_id) is not None
    finally:
        app.close_sync()


async def test_apply_async_with_celery_shaped_arguments_names_the_celery_shim(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def echo(x: int) -> int:
        return x

    async with memory_app(registry=registry) as app:
        with pytest.raises(TypeError, match=r"takes the queue to enqueue on first.*lexigram_compat\.celery"):
            echo.apply_async([1])  # type: ignore[arg-type,call-arg,unused-coroutine]
        with pytest.raises(TypeError, match=r"got None"):
            echo.apply_async(args=[1], countdown=5)  # type: ignore[call-arg,unused-coroutine]
        with pytest.raises(TypeError, match="echo"):
            echo.apply_async(app.queue, 1, 2)  # type: ignore[call-arg,unused-coroutine]  # checked at once
        assert await app.queue.count() == 0
