"""The ``Celery``-shaped app: ``Celery(main, ...)`` wrapping a lexigram ``TasksApp``.

The ``TasksApp`` is built from the config on first use (``Celery(main,
config={...})``, ``broker_url`` and the other settings of
:mod:`lexigram_compat.celery.settings`), or given (``tasks_app=``), and started on a
background loop the first time sync code enqueues or reads a result.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, overload

from lexigram_compat.app import TasksApp
from lexigram_compat.celery import states
from lexigram_compat.celery.bases import attach as attach_handlers
from lexigram_compat.celery.bases import declare as declare_task
from lexigram_compat.celery.bases import run_outcome_handlers
from lexigram_compat.celery.discovery import Autodiscovery
from lexigram_compat.celery.options import check_call_options
from lexigram_compat.celery.result import AsyncResult, EagerResult
from lexigram_compat.celery.schedules import schedules_of
from lexigram_compat.celery.settings import Settings, read_object, tasks_section
from lexigram_compat.celery.signals import attach as _attach_signals
from lexigram_compat.celery.task import EAGER_HEADER, Task
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.errors import ConfigurationError
from lexigram_compat.job_context import job_context_of
from lexigram_compat.outcomes import Completed, RetryLater
from lexigram_compat.registry import TaskRegistry
from lexigram_compat.worker.execution import execute

if TYPE_CHECKING:
    from lexigram_compat.di.container import Resolver
    from lexigram_compat.queue_handle import QueueHandle
    from lexigram_compat.tasks import Task as NeutralTask

__all__ = ["Celery", "current_app", "declared_named", "shared_task", "task_named"]

_lock = threading.Lock()
_current: Celery | None = None
_apps: list[Celery] = []
_shared: list[Task] = []


def current_app() -> Celery:
    """The most recently created app (a default one on the memory engine if none was)."""
    with _lock:
        current = _current
    return current if current is not None else Celery("default")


def _newest_first() -> list[Celery]:
    with _lock:
        return list(reversed(_apps))


def task_named(name: str) -> Task | None:
    """The shim task registered as ``name`` in any app (the newest app first), or None."""
    return next((found for app in _newest_first() if (found := app.tasks.get(name)) is not None), None)


def declared_named(name: str) -> Task | NeutralTask[Any, Any] | None:
    """The shim task registered as ``name``, else the neutral ``@task`` a shim app's registry
    declares under it (a converted project's task: Celery's ``sender`` for the signals), or None."""
    found = task_named(name)
    if found is not None:
        return found
    return next((task for app in _newest_first() if (task := app.registry.get(name)) is not None), None)


def attach_signals(tasks_app: TasksApp) -> None:
    """The shim's hook handlers on ``tasks_app``: ``base=`` classes' handlers first, then
    the signals (Celery calls ``on_success`` before sending ``task_success``)."""
    attach_handlers(tasks_app)
    _attach_signals(tasks_app)


def _run(coro: Any) -> Any:
    """Run ``coro`` to its end from sync code (in a thread of its own under a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Celery:
    """A Celery-shaped app over a lexigram ``TasksApp``.

    Args:
        main: The app's name (Celery's ``main``).
        broker: Celery's broker URL (``memory://``, ``redis://``, ``amqp://``,
            ``postgresql://``): the lexigram backend.
        backend: Celery's result backend: accepted and not used (results live in the
            engine's job records, kept ``retention.completed_seconds``).
        config: The lexigram ``tasks:`` section (or a dict holding one under ``tasks``).
        tasks_app: Use this ``TasksApp`` (its registry) instead of building one.
        registry: The registry tasks are declared in (default: a new one).
        container: The DI container of the built ``TasksApp``.
        include: Modules to import (their tasks declared) when the ``TasksApp`` is built.
    """

    def __init__(
        self,
        main: str | None = None,
        *,
        broker: str | None = None,
        backend: str | None = None,
        config: Mapping[str, Any] | None = None,
        tasks_app: TasksApp | None = None,
        registry: TaskRegistry | None = None,
        container: Resolver | None = None,
        include: Sequence[str] = (),
        set_as_current: bool = True,
        **unsupported: Any,
    ) -> None:
        global _current  # noqa: PLW0603 - Celery's current app, one per process
        if unsupported:
            raise ConfigurationError(
                f"Celery({main!r}, {next(iter(unsupported))}=...) is not supported by lexigram_compat.celery",
                hint="pass broker=, backend=, include=, config= (the lexigram tasks: section) or tasks_app=",
            )
        self.main = main
        self._config = dict(config or {})
        self._container = container
        self._include = tuple(include)
        self._discovery = Autodiscovery()
        self._tasks_app: TasksApp | None = tasks_app
        if tasks_app is not None:
            attach_signals(tasks_app)
        self._started_here = False
        self._lock = threading.Lock()
        if tasks_app is not None:
            registry = tasks_app.registry
        # An empty registry is falsy: `registry or TaskRegistry()` would drop the one given.
        self.registry = registry if registry is not None else TaskRegistry()
        self._tasks: dict[str, Task] = {}
        self._beat_names: list[str] = []
        self.conf = Settings(lambda: self._tasks_app is not None, self._setting_changed)
        if broker is not None:
            self.conf["broker_url"] = broker
        if backend is not None:
            self.conf["result_backend"] = backend
        with _lock:
            for shared in _shared:
                self._adopt(shared)
            _apps.append(self)
            if set_as_current:
                _current = self

    def __repr__(self) -> str:
        return f"<Celery {self.main}>"

    # -- declaring tasks ---------------------------------------------------------------
    @overload
    def task(self, fn: Callable[..., Any], /) -> Task: ...

    @overload
    def task(self, **options: Any) -> Callable[[Callable[..., Any]], Task]: ...

    def task(self, *args: Any, **options: Any) -> Task | Callable[[Callable[..., Any]], Task]:
        """``@app.task`` or ``@app.task(**options)``: declare a Celery-style task."""

        def declare(fn: Callable[..., Any]) -> Task:
            where = f"@app.task on {getattr(fn, '__qualname__', fn)!r}"
            ignore_result = bool(self.conf.get("task_ignore_result"))
            return self._adopt(declare_task(where, fn, options, self, ignore_result))

        if len(args) == 1 and callable(args[0]) and not options:
            return declare(args[0])
        if args:
            raise TypeError(f"app.task() takes the function, or keyword options only; got {args!r}")
        return declare

    @property
    def tasks(self) -> dict[str, Task]:
        """The app's tasks by name (as in Celery, reading it runs pending autodiscovery)."""
        self._discovery.run()
        return self._tasks

    def _adopt(self, declared: Task) -> Task:
        self.registry.add(declared.neutral)
        self._tasks[declared.name] = declared
        return declared

    def autodiscover_tasks(
        self,
        packages: Sequence[str] | Callable[[], Sequence[str]] | None = None,
        related_name: str = "tasks",
        force: bool = False,
    ) -> None:
        """Import ``<package>.<related_name>`` for each package that has one, when the app
        is first used (``force=True``: now). Without packages: a Django project's
        installed apps (:mod:`lexigram_compat.celery.discovery`)."""
        self._discovery.add(packages, related_name, force=force)

    # -- configuration -----------------------------------------------------------------
    def _setting_changed(self, key: str, value: Any) -> None:
        if key == "beat_schedule":
            self._set_beat_schedule(value)

    def _set_beat_schedule(self, value: Any) -> None:
        """Register the entries of ``conf.beat_schedule`` as schedules of this app's
        registry (replacing the previous entries), fired by the scheduler of every engine."""
        schedules = schedules_of(value or {})
        with self._lock:
            for name in self._beat_names:
                self.registry.remove_schedule(name)
            for schedule in schedules:
                self.registry.add_schedule(schedule)
            self._beat_names = [s.name for s in schedules]

    def config_from_object(
        self, obj: Any, namespace: str | None = None, silent: bool = False, force: bool = False
    ) -> None:
        """Read the supported settings from ``obj`` (``namespace="CELERY"``: its
        ``CELERY_*`` names); an unsupported one is refused, naming it. ``silent``: an
        import path that cannot be imported is ignored, as in Celery."""
        try:
            found = read_object(obj, namespace)
        except ImportError:
            if silent:
                return
            raise
        self.conf.update(found)

    @property
    def tasks_app(self) -> TasksApp:
        """The lexigram app (built from the configuration on first use)."""
        if self._tasks_app is None:
            for module in self._include:
                importlib.import_module(module)
            self._discovery.run()
        with self._lock:
            if self._tasks_app is None:
                section = tasks_section(self.conf, self._config)
                self._tasks_app = TasksApp.from_dict(
                    {"tasks": section}, registry=self.registry, container=self._container
                )
                attach_signals(self._tasks_app)
            return self._tasks_app

    def use(self, tasks_app: TasksApp) -> None:
        """Enqueue through ``tasks_app`` from now on (it must share this app's registry)."""
        if any(tasks_app.registry.get(name) is None for name in self.tasks):
            raise ConfigurationError("Celery.use(app): the TasksApp must know this app's tasks",
                                     hint="build it with registry=celery_app.registry")  # fmt: skip
        with self._lock:
            self._tasks_app = tasks_app
            self._started_here = False
        attach_signals(tasks_app)

    def queue_handle(self) -> QueueHandle:
        """The lexigram queue, its app started (on a background loop) if it was not."""
        app = self.tasks_app
        with self._lock:
            if not app.is_started:
                app.start_sync()
                self._started_here = True
        return app.queue

    def close(self) -> None:
        """Close the lexigram app if this object started it."""
        with self._lock:
            app, started = self._tasks_app, self._started_here
            self._started_here = False
        if app is not None and started:
            app.close_sync()

    # -- calling -----------------------------------------------------------------------
    def publish(
        self, declared: Task, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> AsyncResult | EagerResult:
        """Enqueue a job of ``declared`` (or run it eagerly under ``task_always_eager``)."""
        if self.conf.get("task_always_eager"):
            return self.run_eagerly(declared, args, kwargs, options.get("task_id"), options.get("headers"))
        call = declared.neutral.s(*args, **kwargs)
        return self._enqueued(self.queue_handle().enqueue_sync(call, **_neutral_options(options)))

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult:
        """Enqueue task ``name`` (maybe declared in another service) by name."""
        check_call_options(f"send_task({name!r})", options)
        queue = self.queue_handle()
        return self._enqueued(queue.send_task_sync(name, tuple(args or ()), dict(kwargs or {}),
                                                   **_neutral_options(options)))  # fmt: skip

    def _enqueued(self, result: Any) -> AsyncResult:
        if result.is_err():
            raise result.unwrap_err()
        return AsyncResult(result.unwrap(), self)

    def AsyncResult(self, task_id: str) -> AsyncResult:
        """The result handle of job ``task_id``."""
        return AsyncResult(task_id, self)

    def run_eagerly(
        self, declared: Task, args: tuple[Any, ...], kwargs: dict[str, Any], task_id: str | None,
        headers: Mapping[str, Any] | None,
    ) -> EagerResult:  # fmt: skip
        """Run a job of ``declared`` now: the arguments encoded as for a queue, each
        attempt through the worker's ``execute`` (decode, DI, timeout, retry decision);
        a retry runs at once."""
        app = self.tasks_app
        neutral = declared.neutral
        encoded_args, encoded_kwargs = neutral.params.encode(declared.name, args, kwargs)
        policy = neutral.policy(app.default_policy)
        envelope = JobEnvelope(
            task_id or str(uuid.uuid4()), declared.name, declared.queue or app.config.backend.queue_name,
            encoded_args, encoded_kwargs, max_attempts=policy.max_attempts,
            headers={**dict(headers or {}), EAGER_HEADER: True},
        )  # fmt: skip
        context = app.execution_context()
        while True:
            envelope = envelope.next_attempt()
            outcome = _run(execute(context, envelope))
            run_outcome_handlers(declared, job_context_of(envelope), outcome)
            if isinstance(outcome, Completed):
                return EagerResult(
                    envelope.job_id, states.SUCCESS, outcome.result, None, envelope.attempts - 1
                )
            if isinstance(outcome, RetryLater):
                envelope = replace(envelope, run_at=outcome.run_at)
                continue
            if self.conf.get("task_eager_propagates"):
                raise outcome.error
            return EagerResult(envelope.job_id, states.FAILURE, None, outcome.error, envelope.attempts - 1)


def _neutral_options(options: Mapping[str, Any]) -> dict[str, Any]:
    mapping = {"countdown": "delay", "eta": "eta", "queue": "queue", "priority": "priority",
               "task_id": "job_id", "headers": "headers", "expires": "expires",
               "compression": "compression"}  # fmt: skip
    return {mapping[k]: v for k, v in options.items() if v is not None}


@overload
def shared_task(fn: Callable[..., Any], /) -> Task: ...


@overload
def shared_task(**options: Any) -> Callable[[Callable[..., Any]], Task]: ...


def shared_task(*args: Any, **options: Any) -> Task | Callable[[Callable[..., Any]], Task]:
    """``@shared_task``: a task of every app (calls go through the current app)."""

    def declare(fn: Callable[..., Any]) -> Task:
        where = f"@shared_task on {getattr(fn, '__qualname__', fn)!r}"
        declared = declare_task(where, fn, options, None, False)
        with _lock:
            _shared.append(declared)
            apps = list(_apps)
        for app in apps:
            app._adopt(declared)
        return declared

    if len(args) == 1 and callable(args[0]) and not options:
        return declare(args[0])
    if args:
        raise TypeError(f"shared_task() takes the function, or keyword options only; got {args!r}")
    return declare
