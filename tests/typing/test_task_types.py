"""Static types of ``@task``, ``TaskCall`` and ``enqueue``, verified by ``mypy --strict``.

``assert_type`` is a no-op at runtime, so pytest only proves these run cleanly;
the real checks happen when mypy reads this file. A ``# type: ignore[code]``
marks a line mypy must reject: with ``warn_unused_ignores`` (part of
``strict``) mypy fails if that error ever disappears.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, assert_type

from lexigram_compat import (
    JobInfo,
    Priority,
    Result,
    Task,
    TaskCall,
    TaskQueueError,
    TaskQueueProtocol,
    TaskRegistry,
    scheduled,
    task,
)
from lexigram_compat.testing import drain, memory_app

REGISTRY = TaskRegistry()


@task(registry=REGISTRY)
async def render(x: int) -> str:
    return str(x)


@task(registry=REGISTRY)
async def render_positional(x: int, /) -> str:
    return str(x)


@task(name="types.total", priority=Priority.HIGH, registry=REGISTRY)
def total(values: list[int], *, scale: float = 1.0) -> float:
    return sum(values) * scale


@scheduled("0 0 * * *", name="types.nightly", registry=REGISTRY)
async def nightly() -> None:
    return None


if TYPE_CHECKING:
    # The bare form registers in the global registry, so it is only type-checked.
    @task
    async def bare(x: int, /) -> str: ...

    assert_type(bare, Task[[int], Coroutine[Any, Any, str]])


def test_decorated_async_function_keeps_its_signature() -> None:
    # assert_type is exact, and mypy keeps parameter names in a ParamSpec
    # (``Arg(int, 'x')``), so the exact form uses a positional-only parameter;
    # the named one is checked by assignment, which a wrong type fails.
    assert_type(render_positional, Task[[int], Coroutine[Any, Any, str]])
    declared: Task[[int], Coroutine[Any, Any, str]] = render
    wrong_param: Task[[str], Coroutine[Any, Any, str]] = render  # type: ignore[assignment]
    wrong_return: Task[[int], Coroutine[Any, Any, int]] = render  # type: ignore[assignment]
    sync_declared: Task[[list[int]], float] = total
    assert_type(nightly, Task[[], Coroutine[Any, Any, None]])
    assert declared is render
    assert isinstance(wrong_param, Task)
    assert isinstance(wrong_return, Task)
    assert isinstance(sync_declared, Task)


def test_calling_returns_a_task_call() -> None:
    call = render(1)
    assert_type(call, TaskCall)
    assert_type(render.s(1), TaskCall)
    assert_type(render.signature(1), TaskCall)
    assert_type(call.options(delay=5, priority=Priority.LOW), TaskCall)
    assert_type(total([1, 2], scale=2.0), TaskCall)
    assert call.args == (1,)


def test_wrong_arguments_are_type_errors() -> None:
    # Each line is accepted at runtime (values are validated at enqueue), but
    # mypy must report it; an unused ignore would fail the type check.
    wrong_type = render("1")  # type: ignore[arg-type]
    wrong_list = total(["a"])  # type: ignore[list-item]
    assert wrong_type.args == ("1",)
    assert wrong_list.args == (["a"],)


async def test_run_returns_the_functions_type() -> None:
    assert_type(await render.run(3), str)
    assert_type(total.run([1, 2]), float)
    assert total.run([1, 2], scale=0.5) == 1.5


async def test_enqueue_returns_a_result_of_the_job_id() -> None:
    async with memory_app(registry=REGISTRY) as app:
        queue: TaskQueueProtocol = app.queue
        result = await queue.enqueue(render(2))
        assert_type(result, Result[str, TaskQueueError])
        assert_type(result.unwrap(), str)
        assert_type(await queue.enqueue_many([render(1), total([1])]), Result[list[str], TaskQueueError])
        assert_type(await render.apply_async(queue, 4), Result[str, TaskQueueError])
        assert_type(await queue.get_job(result.unwrap()), JobInfo | None)
        assert_type(await queue.cancel("unknown"), Result[bool, TaskQueueError])
        await drain(app, fail_fast=True)
        info = await queue.get_job(result.unwrap())
    assert info is not None
    assert info.result == "2"
