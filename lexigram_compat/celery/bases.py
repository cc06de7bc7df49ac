"""``@app.task(base=MyTask)``: a :class:`~lexigram_compat.celery.task.Task` subclass
whose handlers run on every engine, in Celery's order.

- ``before_start`` and ``__call__`` run in the attempt itself (the task's thread or
  coroutine, ``self.request`` set): the shim's runner calls them
  (:meth:`~lexigram_compat.celery.task.CeleryTask._called`).
- ``on_success``, ``on_retry``, ``on_failure`` and ``after_return`` run from the app's
  lifecycle hooks (:mod:`lexigram_compat.hooks`), after the outcome was recorded, as
  Celery calls them after storing it: registered before the signals' bridges, so the
  order is Celery's: ``on_success`` → ``task_success`` → ``after_return`` →
  ``task_postrun`` (``on_failure`` → ``task_failure`` → ``after_return``;
  ``on_retry`` → ``task_retry``, no ``after_return``). They run in a thread (they are
  sync code that may block), with ``self.request`` set; one that raises is logged.
- The eager ``apply()`` calls them itself (:func:`run_outcome_handlers`).

Class attributes Celery reads as task defaults (``max_retries``, ``autoretry_for``,
``queue``, ``time_limit``, ...) apply under the decorator's options, checked as if
passed to the decorator: an unsupported one is refused, naming the class.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lexigram_compat.celery import states
from lexigram_compat.celery.options import TaskOptions, known_task_options, task_options
from lexigram_compat.celery.task import CeleryTask, Request
from lexigram_compat.errors import UnsupportedOptionError
from lexigram_compat.outcomes import Completed, DeadLettered, Outcome, RetryLater
from lexigram_compat.retry import Retry, cause_of

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.celery.app import Celery
    from lexigram_compat.job_context import JobContext

__all__ = ["ExceptionInfo", "attach", "declare", "run_outcome_handlers"]

log = logging.getLogger("lexigram_compat.celery")

_NOT_DEFAULTS = frozenset({"name", "bind"})
"""Options Celery takes from the decorator only, never from the base class."""


class ExceptionInfo:
    """The ``einfo`` of ``on_failure``/``on_retry`` (Celery's ``ExceptionInfo`` fields)."""

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception
        self.type = type(exception)
        self.tb = exception.__traceback__
        self.traceback = "".join(traceback.format_exception(exception))

    def __str__(self) -> str:
        return self.traceback


def declare(
    where: str, fn: Callable[..., Any], options: dict[str, Any], app: Celery | None, ignore_result: bool
) -> CeleryTask:
    """The task object of ``@app.task(**options)`` on ``fn``: of class ``base=`` (or the
    shim's ``Task``), with the base's class attributes as defaults of ``options``."""
    options = dict(options)
    cls = _task_class(where, options.pop("base", None))
    defaults = _class_defaults(cls)
    if defaults:
        task_options(f"{where}: base={cls.__qualname__} class attribute", defaults)
    checked: TaskOptions = task_options(where, {**defaults, **options}, default_ignore_result=ignore_result)
    declared = cls(fn, checked, app)
    if any(getattr(cls, handler) is not getattr(CeleryTask, handler) for handler in _OUTCOME_HANDLERS):
        _with_handlers.add(declared.name)
    return declared


_OUTCOME_HANDLERS = ("on_success", "on_retry", "on_failure", "after_return")
_with_handlers: set[str] = set()
"""Names of tasks whose class overrides an outcome handler: every other job's hooks return
at once, without looking its task up (they run for every job of a shim app)."""


def _task_class(where: str, base: Any) -> type[CeleryTask]:
    if base is None:
        return CeleryTask
    if not (isinstance(base, type) and issubclass(base, CeleryTask)):
        celery_task = isinstance(base, type) and any(c.__module__.startswith("celery.") for c in base.__mro__)
        raise UnsupportedOptionError(
            f"{where}: base={base!r} is not a subclass of lexigram_compat.celery.Task",
            hint="derive it from lexigram_compat.celery.Task ('from lexigram_compat.celery import Task')"
            + (" instead of celery.Task" if celery_task else ""),
        )
    for cls in base.__mro__[: base.__mro__.index(CeleryTask)]:
        if "__init__" in vars(cls):
            raise UnsupportedOptionError(
                f"{where}: base={base.__qualname__} defines __init__ ({cls.__qualname__}.__init__)",
                hint="the shim builds task objects itself; set things up lazily (a property or "
                "before_start) instead - Celery too runs __init__ once per process, not per job",
            )
    return base


def _class_defaults(cls: type[CeleryTask]) -> dict[str, Any]:
    """The Celery task options set as class attributes of ``cls`` (nearest class wins)."""
    known = known_task_options() - _NOT_DEFAULTS
    found: dict[str, Any] = {}
    for klass in cls.__mro__[: cls.__mro__.index(CeleryTask)]:
        for attribute, value in vars(klass).items():
            method = inspect.isfunction(value) or isinstance(value, staticmethod | classmethod | property)
            # None is Celery's "not set" (but max_retries=None: retry forever).
            unset = value is None and attribute != "max_retries"
            if attribute in known and attribute not in found and not method and not unset:
                found[attribute] = value
    return found


def _overrides(task: CeleryTask, handler: str) -> bool:
    return getattr(type(task), handler) is not getattr(CeleryTask, handler)


def _handled(ctx: JobContext, handler: str) -> CeleryTask | None:
    from lexigram_compat.celery.app import task_named

    if ctx.task_name not in _with_handlers:
        return None
    task = task_named(ctx.task_name)
    return task if task is not None and _overrides(task, handler) else None


def _call(task: CeleryTask, ctx: JobContext, handler: str, *args: Any) -> None:
    """``task.<handler>(*args)`` with ``self.request`` the job's; a failure is logged."""
    token = task._request.set(Request.of_job(ctx))
    try:
        getattr(task, handler)(*args)
    except Exception:
        log.exception("%s[%s] %s handler raised (ignored: the outcome is recorded)",
                      task.name, ctx.job_id, handler)  # fmt: skip
    finally:
        task._request.reset(token)


def _args(ctx: JobContext) -> tuple[str, list[Any], dict[str, Any]]:
    """``task_id, args, kwargs`` as Celery passes them (the message's arguments)."""
    return ctx.job_id, list(ctx.args), dict(ctx.kwargs)


def _einfo(error: BaseException | None) -> ExceptionInfo | None:
    return ExceptionInfo(error) if error is not None else None


def _on_retry(task: CeleryTask, ctx: JobContext, error: BaseException | None) -> None:
    cause = None if isinstance(error, Retry) else error  # Celery's exc: the cause given to retry()
    _call(task, ctx, "on_retry", cause, *_args(ctx), _einfo(cause))


def _on_failure(task: CeleryTask, ctx: JobContext, error: BaseException | None) -> None:
    _call(task, ctx, "on_failure", error, *_args(ctx), _einfo(error))


def _after_return(task: CeleryTask, ctx: JobContext, outcome: Outcome) -> None:
    if isinstance(outcome, Completed):
        status, retval = states.SUCCESS, outcome.result
    elif isinstance(outcome, DeadLettered):
        status, retval = states.FAILURE, outcome.error
    else:
        return  # Celery calls after_return for neither a retry nor a rejection
    _call(task, ctx, "after_return", status, retval, *_args(ctx), None)


def run_outcome_handlers(task: CeleryTask, ctx: JobContext, outcome: Outcome) -> None:
    """The handlers of one attempt's ``outcome``, in Celery's order (the eager ``apply()``)."""
    if not any(_overrides(task, h) for h in _OUTCOME_HANDLERS):
        return
    if isinstance(outcome, RetryLater):
        error = outcome.error
        _on_retry(task, ctx, cause_of(error))
        return
    if isinstance(outcome, Completed):
        _call(task, ctx, "on_success", outcome.result, *_args(ctx))
    else:
        _on_failure(task, ctx, outcome.error)
    _after_return(task, ctx, outcome)


# The hook handlers: the job's task, if its class overrides the handler, in a thread.
async def _succeeded(ctx: JobContext, result: Any) -> None:
    task = _handled(ctx, "on_success")
    if task is not None:
        await asyncio.to_thread(_call, task, ctx, "on_success", result, *_args(ctx))


async def _retried(ctx: JobContext, error: BaseException | None, delay: float) -> None:
    task = _handled(ctx, "on_retry")
    if task is not None:
        await asyncio.to_thread(_on_retry, task, ctx, error)


async def _dead_lettered(ctx: JobContext, error: BaseException | None) -> None:
    task = _handled(ctx, "on_failure")
    if task is not None:
        await asyncio.to_thread(_on_failure, task, ctx, error)


async def _finished(ctx: JobContext, outcome: Outcome) -> None:
    task = _handled(ctx, "after_return")
    if task is not None:
        await asyncio.to_thread(_after_return, task, ctx, outcome)


def attach(app: TasksApp) -> None:
    """Call the ``base=`` classes' handlers from ``app``'s hooks (before the signals are
    attached: their order is Celery's). Idempotent."""
    for point, handler in (("succeeded", _succeeded), ("retried", _retried),
                           ("dead_lettered", _dead_lettered), ("attempt_finished", _finished)):  # fmt: skip
        app.hooks.on(point, handler)
