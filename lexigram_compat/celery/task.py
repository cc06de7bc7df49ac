"""The Celery-shaped task object: ``@app.task`` / ``@shared_task`` return a :class:`Task`.

Each one is also a neutral :class:`lexigram_compat.tasks.Task` in its app's registry
(same name, its function's signature without ``self`` for ``bind=True``), so every
engine's worker runs it through the settle step. ``self.request`` is read from the
running attempt's :class:`~lexigram_compat.job_context.JobContext`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.celery.exceptions import MaxRetriesExceededError
from lexigram_compat.celery.options import UNLIMITED_ATTEMPTS, TaskOptions, check_call_options
from lexigram_compat.envelope import utcnow
from lexigram_compat.errors import UnsupportedOptionError
from lexigram_compat.job_context import current_job
from lexigram_compat.retry import Reject, Retry
from lexigram_compat.tasks import Task as NeutralTask

if TYPE_CHECKING:
    from lexigram_compat.celery.app import Celery
    from lexigram_compat.celery.result import AsyncResult, EagerResult
    from lexigram_compat.job_context import JobContext

__all__ = ["CeleryTask", "Request", "Signature", "Task"]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _neutral_limits(options: TaskOptions) -> dict[str, Any]:
    """``expires``, ``compression`` and ``rate_limit``: the neutral ``@task`` takes them as they are."""
    return {"expires": options.expires, "compression": options.compression, "rate_limit": options.rate_limit}


@dataclass(frozen=True)
class Request:
    """``self.request`` of a bound task: Celery's ``Context`` fields the shim fills."""

    id: str | None = None
    task: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    headers: dict[str, Any] | None = None
    eta: str | None = None
    """The job's ETA as Celery's request carries it: an ISO 8601 string (None: run at once)."""
    delivery_info: dict[str, Any] = field(default_factory=dict)
    called_directly: bool = True
    is_eager: bool = False

    def __getattr__(self, name: str) -> Any:
        """A custom header as an attribute (``self.request.tenant``), as on Celery's
        ``Context``, which carries each header of ``apply_async(headers=)`` that way too."""
        headers = self.__dict__.get("headers") or {}
        if name in headers:
            return headers[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute or header {name!r}")

    def get(self, key: str, default: Any = None) -> Any:
        """Celery's ``Context.get``: a field or custom header, else ``default``."""
        return getattr(self, key, default)

    @classmethod
    def of_job(cls, job: JobContext) -> Request:
        """The request of a job's attempt, read from its context (a hook's or signal's,
        outside the task body)."""
        return cls(
            id=job.job_id, task=job.task_name, args=job.args, kwargs=dict(job.kwargs), retries=job.retries,
            headers=dict(job.headers) or None, eta=_iso(job.eta), delivery_info={"routing_key": job.queue},
            called_directly=False,
        )  # fmt: skip


class CeleryTask:
    """A Celery-style task (the class of ``self`` in a ``bind=True`` task).

    ``delay``/``apply_async`` enqueue; ``apply`` runs eagerly; calling the object
    runs the function now (as Celery does). ``delay`` and ``apply_async`` are plain
    attributes, so ``mock.patch("module.task.delay")`` keeps working.
    """

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, app: Celery | None) -> None:
        self.fn = fn
        self.options = options
        self._app = app
        module = fn.__module__
        if module == "__main__" and app is not None and app.main:
            module = app.main  # Celery's gen_task_name: a script's tasks are named after its app
        self.name: str = options.name or f"{module}.{fn.__name__}"
        self.bind = options.bind
        self.max_retries = options.max_retries
        self.default_retry_delay = options.default_retry_delay
        self.ignore_result = options.ignore_result
        self.queue = options.queue
        self.acks_late = options.acks_late
        self.throws = options.throws
        self._request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
            f"celery_request:{self.name}", default=None
        )
        self.neutral: NeutralTask[..., Any] = NeutralTask(
            self._runner(),
            name=self.name,
            queue=options.queue,
            priority=options.priority,
            retry=options.policy(),
            timeout=options.time_limit,
            **_neutral_limits(options),
            soft_timeout=options.soft_time_limit,
        )
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    # -- the app ---------------------------------------------------------------------
    @property
    def app(self) -> Celery:
        """The app this task belongs to (a ``shared_task``: the current app)."""
        if self._app is not None:
            return self._app
        from lexigram_compat.celery.app import current_app

        return current_app()

    # -- what a worker runs ------------------------------------------------------------
    def _runner(self) -> Any:
        fn = self.fn
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())
        annotations = dict(getattr(fn, "__annotations__", {}))
        if self.bind:
            if not params:
                raise TypeError(f"@task(bind=True) on {fn.__qualname__}: the function must take self first")
            annotations.pop(params[0].name, None)
            params = params[1:]
        runner: Any
        if inspect.iscoroutinefunction(fn):

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._attempt(args, kwargs):
                    self._before_start()
                    try:
                        value = self._called(args, kwargs)
                        if inspect.isawaitable(value):
                            value = await value
                    except Exception as exc:
                        raise self._autoretry(exc) from exc
                return None if self.ignore_result else value

            runner = run_async
        else:

            def run(*args: Any, **kwargs: Any) -> Any:
                with self._attempt(args, kwargs):
                    self._before_start()
                    try:
                        value = self._called(args, kwargs)
                    except Exception as exc:
                        raise self._autoretry(exc) from exc
                return None if self.ignore_result else value

            runner = run
        runner.__signature__ = signature.replace(parameters=params)
        runner.__annotations__ = annotations
        runner.__wrapped__ = fn  # type hints resolve in fn's module
        runner.__module__, runner.__qualname__, runner.__name__ = fn.__module__, fn.__qualname__, fn.__name__
        return runner

    def _invoke(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.fn(self, *args, **kwargs) if self.bind else self.fn(*args, **kwargs)

    def _called(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """What a worker runs, as Celery's tracer does: a ``base=`` class's own
        ``__call__`` (which runs the function through ``super().__call__``), else the function."""
        if type(self).__call__ is not CeleryTask.__call__:
            return self(*args, **kwargs)
        return self._invoke(args, kwargs)

    def _before_start(self) -> None:
        if type(self).before_start is not CeleryTask.before_start:
            request = self.request
            self.before_start(request.id, list(request.args), dict(request.kwargs))

    # -- handlers a base= class overrides (Celery's signatures; called on every engine
    # from the app's lifecycle hooks, see lexigram_compat.celery.handlers) ---------------
    def before_start(self, task_id: str | None, args: Any, kwargs: Any) -> None:
        """Called in the worker before the task runs (after ``task_prerun``); raising fails the attempt."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Called after the task's success was recorded, before ``task_success``."""

    def on_retry(self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Called after a retry was recorded (``exc``: the cause given to ``self.retry``)."""

    def on_failure(self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Called after the job failed for good (its dead letter kept), before ``task_failure``."""

    def after_return(  # noqa: PLR0917 - Celery's signature
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called after ``on_success``/``on_failure`` (not after a retry), before ``task_postrun``."""

    @contextmanager
    def _attempt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[None]:
        job = current_job()
        if job is None:
            request = Request(task=self.name, args=args, kwargs=dict(kwargs))
        else:
            request = Request(
                id=job.job_id, task=job.task_name, args=args, kwargs=dict(kwargs), retries=job.retries,
                headers={k: v for k, v in job.headers.items() if k != EAGER_HEADER} or None,
                eta=_iso(job.eta), delivery_info={"routing_key": job.queue}, called_directly=False,
                is_eager=job.headers.get(EAGER_HEADER) is True,
            )  # fmt: skip
        token = self._request.set(request)
        try:
            yield
        finally:
            self._request.reset(token)

    def _autoretry(self, exc: Exception) -> Exception:
        """Celery's autoretry: an exception of ``autoretry_for`` becomes ``self.retry(exc=...)``."""
        options = self.options
        if isinstance(exc, Retry | Reject) or not options.autoretry_for:
            return exc
        if options.dont_autoretry_for and isinstance(exc, options.dont_autoretry_for):
            return exc
        if not isinstance(exc, options.autoretry_for):
            return exc
        kwargs = dict(options.retry_kwargs)
        try:
            # With retry_backoff, the task's RetryPolicy computes Celery's countdown.
            backoff = bool(options.retry_backoff)
            countdown = None if backoff else kwargs.get("countdown")
            self._retry(
                exc=exc, countdown=countdown, max_retries=kwargs.get("max_retries"), policy_delay=backoff
            )
        except Exception as raised:
            return raised
        raise AssertionError("retry() returned")  # pragma: no cover

    # -- inside the task ---------------------------------------------------------------
    @property
    def request(self) -> Request:
        """The running job's request (outside a worker: ``called_directly``, no id)."""
        return self._request.get() or Request(task=self.name)

    def retry(  # noqa: PLR0917 - Celery's signature
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Exception:
        """Celery's ``self.retry``: raise ``Retry`` for another attempt of this job.

        After ``max_retries`` retries it raises ``exc`` (or ``MaxRetriesExceededError``)
        instead: the job fails for good with that cause. Called outside a worker it
        raises ``exc`` (as Celery does).
        """
        if args is not None or kwargs is not None or options:
            given = {"args": args is not None, "kwargs": kwargs is not None, **dict.fromkeys(options, True)}
            named = ", ".join(name for name, present in given.items() if present)
            raise UnsupportedOptionError(
                f"{self.name}: self.retry({named}=...) is not supported by lexigram_compat.celery",
                hint="a retry runs the same job again with its arguments; enqueue a new job for others",
            )
        if not throw:
            raise UnsupportedOptionError(
                f"{self.name}: self.retry(throw=False) is not supported",
                hint="a retry happens when the task raises it: use 'raise self.retry(...)'",
            )
        self._retry(exc=exc, countdown=countdown, eta=eta, max_retries=max_retries)
        raise AssertionError("retry() returned")  # pragma: no cover

    def _retry(
        self,
        *,
        exc: BaseException | None,
        countdown: float | None = None,
        eta: datetime | None = None,
        max_retries: int | None = None,
        policy_delay: bool = False,
    ) -> None:
        request = self.request
        if request.called_directly:
            raise exc if exc is not None else Retry(message="Task can be retried")
        limit = max_retries if max_retries is not None else self.max_retries
        if limit is not None and request.retries >= limit:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{request.args} kwargs:{request.kwargs}"
            )
        if countdown is not None:
            delay: float | None = float(countdown)
        elif eta is not None:
            due = eta if eta.tzinfo else eta.replace(tzinfo=UTC)
            delay = max(0.0, (due - utcnow()).total_seconds())
        else:
            delay = None if policy_delay else float(self.default_retry_delay)
        attempts = UNLIMITED_ATTEMPTS if limit is None else limit + 1
        raise Retry(delay=delay, exc=exc, max_attempts=attempts)

    # -- calling -------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function now, in this process (Celery's ``task(...)``)."""
        with self._attempt(args, kwargs):
            return self._invoke(args, kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Alias of calling the task."""
        return self(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult | EagerResult:
        """``apply_async(args, kwargs)``."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult | EagerResult:
        """Enqueue a job (``countdown``, ``eta``, ``queue``, ``priority``, ``task_id``,
        ``headers``; other options are refused, naming the alternative). With
        ``task_always_eager`` it runs now, like :meth:`apply`."""
        check_call_options(f"{self.name}.apply_async", options)
        return self.app.publish(self, tuple(args or ()), dict(kwargs or {}), options)

    def apply(
        self, args: Any = None, kwargs: Any = None, task_id: str | None = None,
        headers: dict[str, Any] | None = None, **options: Any,
    ) -> EagerResult:  # fmt: skip
        """Run the job now in this process, through the same serialisation, DI and retry
        policy as a worker (retries run at once, without their delay)."""
        if options:
            check_call_options(f"{self.name}.apply", options)
        return self.app.run_eagerly(self, tuple(args or ()), dict(kwargs or {}), task_id, headers)

    def AsyncResult(self, task_id: str) -> AsyncResult:
        """The result handle of job ``task_id``."""
        return self.app.AsyncResult(task_id)

    # -- signatures ----------------------------------------------------------------------
    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature: this task with (part of) its arguments."""
        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: ``delay(...)`` ignores extra arguments."""
        return Signature(self, args, kwargs, immutable=True)

    def signature(self, args: Any = None, kwargs: Any = None, **options: Any) -> Signature:
        """Celery's ``signature(args, kwargs, **options)``."""
        check_call_options(f"{self.name}.signature", options)
        return Signature(self, tuple(args or ()), dict(kwargs or {}), options=options)


Task = CeleryTask
"""``celery.Task``: the class of Celery-style tasks (and of ``self`` in a bound one)."""

EAGER_HEADER = "lexigram_eager"
"""The header the shim's eager run sets, so ``self.request.is_eager`` is true there."""


@dataclass(frozen=True)
class Signature:
    """A task with arguments and call options, to call later (``task.s(...)``)."""

    task: CeleryTask
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    immutable: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def _merged(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self.immutable:
            return self.args, dict(self.kwargs)
        # Celery's Signature._merge: the call's arguments go before the signature's own.
        return (*args, *self.args), {**self.kwargs, **kwargs}

    def set(self, **options: Any) -> Signature:
        """A copy with more call options."""
        check_call_options(f"{self.task.name}.set", options)
        return Signature(self.task, self.args, self.kwargs, self.immutable, {**self.options, **options})

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult | EagerResult:
        """Enqueue with these arguments (plus more, unless immutable)."""
        merged_args, merged_kwargs = self._merged(args, kwargs)
        return self.task.apply_async(merged_args, merged_kwargs, **self.options)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult | EagerResult:
        """Enqueue with these arguments and options (``options`` win)."""
        merged_args, merged_kwargs = self._merged(tuple(args or ()), dict(kwargs or {}))
        return self.task.apply_async(merged_args, merged_kwargs, **{**self.options, **options})

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> EagerResult:
        """Run now (see :meth:`Task.apply`)."""
        merged_args, merged_kwargs = self._merged(tuple(args or ()), dict(kwargs or {}))
        return self.task.apply(merged_args, merged_kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        merged_args, merged_kwargs = self._merged(args, kwargs)
        return self.task(*merged_args, **merged_kwargs)
