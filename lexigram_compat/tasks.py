"""``@task``: declare a function as a background task.

Declaration only: no engine is touched here. The decorated object keeps the
function's signature (``ParamSpec``), so calling it is type-checked, and the
call returns a :class:`TaskCall` that ``enqueue`` accepts.

This module is also the port of ``lexigram.tasks``: the seed's names import
from here with the prefix swapped.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import re
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from lexigram_compat.calls import TaskCall
from lexigram_compat.compression import validate_compression
from lexigram_compat.rate_limits import parse_rate_limit
from lexigram_compat.registry import TaskRegistry, default_registry
from lexigram_compat.retry import RetryPolicy
from lexigram_compat.serialization import TaskSignature

if TYPE_CHECKING:
    from lexigram_compat.errors import TaskQueueError
    from lexigram_compat.result import Result

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["MAX_PRIORITY", "Priority", "Task", "task", "validate_queue_name"]

MAX_PRIORITY = 255
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,63}$")


class Priority(enum.IntEnum):
    """Job priority: a higher value runs first among ready jobs of one queue."""

    LOW = 0
    NORMAL = 5
    HIGH = 10
    CRITICAL = 20


def validate_priority(value: object, where: str) -> int:
    """Return ``value`` as an int priority or raise ``ValueError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise ValueError(
            f"{where}: priority={value!r} is not valid; use a Priority or an int "
            f"from 0 to {MAX_PRIORITY} (higher runs first)"
        )
    return int(value)


def validate_queue_name(value: object, where: str) -> str:
    """Return ``value`` if it is a safe queue name, else raise ``ValueError``.

    Queue names reach broker keys, AMQP routing and SQL identifiers, so only a
    conservative alphabet is accepted, at most 63 bytes (PostgreSQL's limit).
    """
    if not isinstance(value, str) or not _QUEUE_NAME.match(value):
        raise ValueError(
            f"{where}: queue={value!r} is not a valid queue name; use 1-63 characters "
            "from A-Z a-z 0-9 _ . : -"
        )
    return value


def validate_expires(value: object, where: str) -> float | None:
    """``value`` (seconds or a ``timedelta``, counted from each enqueue) as seconds > 0,
    or ``ValueError`` naming ``where``."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < float("inf"):
        raise ValueError(
            f"{where}: expires={value!r} is not valid; use seconds > 0 or a timedelta "
            "(the time from enqueue after which a job that has not started is not run)"
        )
    return float(seconds)


def _soft_timeout(where: str, value: object, timeout: float | None) -> float | None:
    """``soft_timeout`` checked: seconds > 0, at most the task's ``timeout``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{where}: soft_timeout={value!r} must be a number of seconds > 0")
    if timeout is not None and value > timeout:
        raise ValueError(
            f"{where}: soft_timeout={value!r} is past timeout={timeout:g}; the soft timeout "
            "must come first (at most timeout) to give the task time to clean up"
        )
    return float(value)


class Task(Generic[P, R]):
    """A function declared with ``@task``.

    Calling it returns a :class:`TaskCall`; ``run`` executes the function
    inline, resolving dependencies as a worker would.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        idempotency_key: Callable[..., str] | None = None,
        expires: float | timedelta | None = None,
        compression: str | None = None,
        rate_limit: str | float | None = None,
        soft_timeout: float | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {fn!r}")
        where = f"@task on {getattr(fn, '__qualname__', fn)!r}"
        self.fn = fn
        self.name: str = name if name is not None else f"{fn.__module__}.{fn.__qualname__}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"{where}: name={name!r} must be a non-empty string")
        self.queue = None if queue is None else validate_queue_name(queue, where)
        self.priority = None if priority is None else validate_priority(priority, where)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"{where}: retry={retry!r} must be a RetryPolicy")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise ValueError(f"{where}: max_retries={max_retries!r} must be an int >= 0")
        if retry is not None and max_retries is not None:
            retry = retry.with_max_attempts(max_retries + 1)
        self.retry = retry
        self.max_retries = max_retries
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(f"{where}: timeout={timeout!r} must be a number of seconds > 0")
        self.timeout = None if timeout is None else float(timeout)
        self.soft_timeout = _soft_timeout(where, soft_timeout, self.timeout)
        if idempotency_key is not None and not callable(idempotency_key):
            raise TypeError(
                f"{where}: idempotency_key={idempotency_key!r} must be a callable of the "
                "task's arguments returning a str (or None)"
            )
        self.idempotency_key = idempotency_key
        self.expires = validate_expires(expires, where)
        self.compression = validate_compression(compression, where)
        self.rate_limit = parse_rate_limit(rate_limit, where)
        """Starts per second per worker process (``None``: no limit)."""
        self.is_async = inspect.iscoroutinefunction(fn)
        self.params = TaskSignature(fn)
        functools.update_wrapper(self, fn)

    def policy(self, default: RetryPolicy) -> RetryPolicy:
        """The retry policy in force: the task's own, else ``default`` (from config)."""
        if self.retry is not None:
            return self.retry
        if self.max_retries is not None:
            return default.with_max_attempts(self.max_retries + 1)
        return default

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> TaskCall:
        """Bind the arguments (checked against the signature) into a TaskCall."""
        self.params.check_call(self.name, args, kwargs)
        return TaskCall(self.name, args, kwargs)

    def s(self, *args: Any, **kwargs: Any) -> TaskCall:
        """Lexigram's spelling: a TaskCall for these arguments."""
        self.params.check_call(self.name, args, kwargs)
        return TaskCall(self.name, args, kwargs)

    def signature(self, *args: Any, **kwargs: Any) -> TaskCall:
        """Alias of :meth:`s` (Lexigram's ``fn.signature(...)``)."""
        return self.s(*args, **kwargs)

    def run(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function inline, resolving missing parameters from the
        bound app's container (or the default one), like a worker would."""
        from lexigram_compat.di.injection import run_inline

        return run_inline(self, args, kwargs)  # type: ignore[no-any-return]

    def apply_async(
        self, queue: Enqueuer | None = None, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, Result[str, TaskQueueError]]:
        """Enqueue on ``queue`` (Lexigram's spelling): ``await f.apply_async(queue, ...)``.

        The arguments are checked at once, and so is the caller: from sync code (no
        running event loop) this raises ``TypeError`` instead of returning a coroutine
        nobody awaits (no job would be created). Sync code uses
        ``queue.enqueue_sync(f(...))``; Celery-shaped calls (``apply_async(args=[...],
        countdown=5)``) belong to :mod:`lexigram_compat.celery`.
        """
        if queue is None or isinstance(queue, list | tuple) or not hasattr(queue, "enqueue"):
            raise TypeError(
                f"{self.name}.apply_async(queue, *args, **kwargs) takes the queue to enqueue on "
                f"first, got {queue!r}; for Celery's apply_async(args=..., kwargs=..., countdown=...) "
                "declare the task with lexigram_compat.celery (app.task / shared_task)"
            )
        call = self(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            short = self.name.rsplit(".", 1)[-1]
            raise TypeError(
                f"{self.name}.apply_async() was called from sync code: it returns a coroutine, "
                f"and one nobody awaits creates no job. Use queue.enqueue_sync({short}(...)) "
                "from sync code, or 'await task.apply_async(queue, ...)' in async code"
            ) from None
        return queue.enqueue(call)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __get__(self, instance: object, owner: type | None = None) -> Task[P, R]:
        # Tasks declared in a class body stay tasks, not bound methods.
        return self


class Enqueuer(Protocol):
    """What ``apply_async`` enqueues through (any ``TaskQueueProtocol``)."""

    async def enqueue(self, call: TaskCall) -> Result[str, TaskQueueError]: ...


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    retry: RetryPolicy | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    idempotency_key: Callable[..., str] | None = None,
    expires: float | timedelta | None = None,
    compression: str | None = None,
    rate_limit: str | float | None = None,
    registry: TaskRegistry | None = None,
    soft_timeout: float | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    retry: RetryPolicy | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    idempotency_key: Callable[..., str] | None = None,
    expires: float | timedelta | None = None,
    compression: str | None = None,
    rate_limit: str | float | None = None,
    registry: TaskRegistry | None = None,
    soft_timeout: float | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a background task; works bare (``@task``) and called (``@task(...)``).

    Args:
        fn: The function (bare form only). ``async def`` runs on the worker's
            event loop; a plain ``def`` runs in a thread.
        name: Registered name; default ``module.qualname`` (Celery's naming).
        queue: Named queue to route to (see ``tasks.backends``).
        priority: ``Priority`` or int 0-255; higher runs first.
        retry: A ``RetryPolicy`` overriding the ``tasks.retry`` config.
        max_retries: Lexigram's spelling: ``max_attempts = max_retries + 1``.
        timeout: Seconds each attempt may run (default ``worker.default_timeout``).
        soft_timeout: Seconds after which ``TaskSoftTimeoutError`` is raised inside
            the attempt, so it can clean up before ``timeout`` fails it (at most
            ``timeout``; see "Timeouts" in ``docs/concepts.md`` for sync tasks).
        idempotency_key: Callable of the task's arguments returning a key; a
            second enqueue with the same key returns the first job's id.
        expires: Seconds (or a ``timedelta``) from each enqueue: a job not started by
            then is not run; it ends as a dead letter with ``JobExpiredError``.
        compression: ``"zlib"`` (``"gzip"``), ``"bzip2"`` or ``"lzma"``: the arguments
            travel compressed on every engine (Celery's own header on the Celery engine).
        rate_limit: At most this many attempts start per worker process: ``"10/s"``,
            ``"100/m"``, ``"1000/h"`` or a number per second (Celery's forms). A job over
            the limit waits; it is not failed and takes no extra attempt.
        registry: Registry to record the task in (default: the global one).

    Returns:
        The :class:`Task`, or a decorator producing one.
    """
    target = registry if registry is not None else default_registry

    def decorate(func: Callable[P, R]) -> Task[P, R]:
        declared = Task(
            func,
            name=name,
            queue=queue,
            priority=priority,
            retry=retry,
            max_retries=max_retries,
            timeout=timeout,
            idempotency_key=idempotency_key,
            expires=expires,
            compression=compression,
            rate_limit=rate_limit,
            soft_timeout=soft_timeout,
        )
        target.add(declared)
        return declared

    if fn is not None:
        return decorate(fn)
    return decorate


# ``lexigram.tasks`` also exposes these; they live in modules that import this
# one, so they are looked up lazily (as Lexigram itself does).
_SEED_NAMES = {
    "scheduled": "lexigram_compat.scheduling",
    "TasksModule": "lexigram_compat.module",
    "TaskConfig": "lexigram_compat.config",
    "JobStatus": "lexigram_compat.queue",
    "JobInfo": "lexigram_compat.queue",
    "DeadLetter": "lexigram_compat.queue",
    "TaskQueueProtocol": "lexigram_compat.queue",
    "DeadLetterQueue": "lexigram_compat.dead_letters",
    "TaskCall": "lexigram_compat.calls",
    "RetryPolicy": "lexigram_compat.retry",
    "Retry": "lexigram_compat.retry",
    "Reject": "lexigram_compat.retry",
    "Abort": "lexigram_compat.retry",
    **{
        name: "lexigram_compat.errors"
        for name in (
            "TaskQueueError",
            "QueueFullError",
            "TaskError",
            "TaskNotFoundError",
            "TaskTimeoutError",
            "TaskSoftTimeoutError",
            "TaskCancelledError",
            "TaskExecutionError",
            "TaskValidationError",
            "DuplicateTaskError",
            "TaskRegistrationError",
            "SerializationError",
            "PayloadTooLargeError",
            "BrokerUnavailableError",
            "UnsupportedOptionError",
            "DependencyResolutionError",
            "JobNotFoundError",
        )
    },
}


def __getattr__(name: str) -> Any:
    module = _SEED_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'lexigram_compat.tasks' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
