"""``TasksApp``: config → engines → queues; the object applications hold."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from lexigram_compat.backends import Backend, BackendSet
from lexigram_compat.calls import CallOptions
from lexigram_compat.config import TaskConfig
from lexigram_compat.dead_letters import DeadLetterQueue
from lexigram_compat.di.container import Resolver
from lexigram_compat.di.injection import release_inline_resolver, set_inline_resolver
from lexigram_compat.engine_contract import EngineContext
from lexigram_compat.enqueueing import JobBuilder
from lexigram_compat.errors import ConfigurationError, TaskQueueError
from lexigram_compat.hooks import Hooks
from lexigram_compat.ledger import fire_key
from lexigram_compat.metrics import install as install_metrics
from lexigram_compat.observability import JobEvents
from lexigram_compat.portal import LoopThread, call_in_loop
from lexigram_compat.queue import TaskQueueProtocol
from lexigram_compat.queue_handle import QueueHandle
from lexigram_compat.registry import TaskRegistry, default_registry
from lexigram_compat.result import Result
from lexigram_compat.retry import RetryPolicy
from lexigram_compat.scheduling import Schedule, Scheduler, schedule_call, schedule_job_id
from lexigram_compat.worker.app_worker import AppWorker
from lexigram_compat.worker.execution import ExecutionContext
from lexigram_compat.worker.settle import Settler
from lexigram_compat.worker_operations import WorkerOperations

__all__ = ["AppResolver", "TasksApp"]

log = logging.getLogger("lexigram_compat.app")


class AppResolver:
    """Answers the app's own types, then asks the user's resolver."""

    def __init__(self, app: TasksApp, user: Resolver | None) -> None:
        self.app = app
        self.user = user

    def resolve(self, key: Any, name: str | None = None) -> Any:
        if key is TaskQueueProtocol or key is QueueHandle:
            if name is None:
                return self.app.queue
            try:
                return self.app.queues[name]
            except KeyError:
                raise LookupError(f"no queue named {name!r} in tasks.backends") from None
        if name is None:
            if key is DeadLetterQueue:
                return self.app.dead_letters
            if key is TaskConfig:
                return self.app.config
            if key is TasksApp:
                return self.app
        if self.user is None:
            raise LookupError(f"nothing registered for {getattr(key, '__qualname__', key)!r}")
        return self.user.resolve(key, name)


class TasksApp:
    """Builds the engines from config and binds the registered tasks to them.

    >>> app = TasksApp.from_dict({"tasks": {"backend": {"type": "memory"}}})
    """

    def __init__(
        self,
        config: TaskConfig | None = None,
        *,
        container: Resolver | None = None,
        registry: TaskRegistry | None = None,
    ) -> None:
        if container is not None and not callable(getattr(container, "resolve", None)):
            raise TypeError(
                f"container={container!r} has no resolve(type, name=None) method; pass a "
                "lexigram_compat.Container or an object with one"
            )
        self.config = config or TaskConfig()
        self.registry = registry if registry is not None else default_registry
        self.user_container = container
        self.container = AppResolver(self, container)
        self.default_policy = RetryPolicy.from_config(self.config.retry)
        self.backend_set = BackendSet(self.config)
        self.builder = JobBuilder(
            self.registry, self.backend_set, self.default_policy, self.config.max_payload_bytes
        )
        self.events = JobEvents()
        self.hooks = Hooks()
        """Lifecycle hooks (:mod:`lexigram_compat.hooks`): ``app.hooks.on("succeeded", fn)``."""
        self._handles = {b.name: QueueHandle(self, b) for b in self.backend_set}
        self._dlqs = {b.name: DeadLetterQueue(self, b) for b in self.backend_set}
        self._started = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: LoopThread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._workers: set[AppWorker] = set()
        self.worker_stop_signal: signal.Signals | None = None
        """The first SIGTERM/SIGINT that stopped the last ``run_worker(handle_signals=True)``
        (None: no signal stopped it); the CLI exits 130 after a SIGINT."""
        self.scheduler: Scheduler | None = None
        self._startup_hooks: list[Callable[[TasksApp], Awaitable[None]]] = []
        for backend in self.backend_set:
            backend.engine.attach(self._engine_context(backend))
        install_metrics(self)  # engine labels on job events; Prometheus counters (metrics extra)

    def _engine_context(self, backend: Backend) -> EngineContext:
        """What ``backend``'s engine gets from this app (never the app itself)."""

        def router() -> tuple[dict[str, str], list[str]]:
            routes: dict[str, str] = {}
            queues = [backend.queue_name, *(self.config.worker.queues or ())]
            for task in self.registry:
                target, physical = self.backend_set.route(task.queue, self.backend_set.primary)
                if target is backend:
                    routes[task.name] = physical
                    queues.append(physical)
            return routes, [*dict.fromkeys([*queues, *backend.queues()])]

        return EngineContext(
            config=self.config,
            registry=self.registry,
            default_policy=self.default_policy,
            events=self.events,
            primary=backend is self.backend_set.primary,
            host=self,
            operations=WorkerOperations(self, backend),
            router=router,
        )

    def on_startup(
        self, hook: Callable[[TasksApp], Awaitable[None]]
    ) -> Callable[[TasksApp], Awaitable[None]]:
        """Register ``async def hook(app)`` to run each time the app has started
        (usable as a decorator): warm caches, enqueue a bootstrap job, ..."""
        self._startup_hooks.append(hook)
        return hook

    # -- construction ------------------------------------------------------
    @classmethod
    def from_yaml(
        cls,
        path: str | Path = "application.yaml",
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        container: Resolver | None = None,
        registry: TaskRegistry | None = None,
    ) -> TasksApp:
        """Load the ``tasks:`` section of ``path`` (with profile and env overrides)."""
        config = TaskConfig.from_yaml(path, profile=profile, environ=environ)
        return cls(config, container=container, registry=registry)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        container: Resolver | None = None,
        registry: TaskRegistry | None = None,
    ) -> TasksApp:
        """Build from a dict shaped like the YAML file (a top-level ``tasks`` key)."""
        return cls(TaskConfig.from_dict(data, environ=environ), container=container, registry=registry)

    # -- what applications use -------------------------------------------
    @property
    def queue(self) -> QueueHandle:
        """The primary queue (``TaskQueueProtocol``)."""
        return self._handles[self.backend_set.primary.name]

    @property
    def queues(self) -> Mapping[str, QueueHandle]:
        """Named queues from ``tasks.backends`` (and ``"default"``, the ``tasks.backend`` one)."""
        return self._handles

    @property
    def dead_letters(self) -> DeadLetterQueue:
        """The primary backend's dead letters."""
        return self._dlqs[self.backend_set.primary.name]

    def dead_letter_queue_of(self, backend: Backend) -> DeadLetterQueue:
        """The dead-letter queue of one of this app's backends."""
        return self._dlqs[backend.name]

    @property
    def native(self) -> Any:
        """The primary engine's own object (the memory engine itself, the Celery app, ...)."""
        engine = self.backend_set.primary.engine
        return getattr(engine, "native", engine)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the app was started on."""
        return self._loop

    @property
    def is_started(self) -> bool:
        return self._started

    def backends_first(self, first: Backend) -> Iterator[Backend]:
        """``first``, then the other backends (job ids are looked up across all)."""
        yield first
        yield from (b for b in self.backend_set if b is not first)

    def not_ready_error(self) -> TaskQueueError | None:
        """Why the app cannot enqueue now, or None."""
        if not self.config.enabled:
            return TaskQueueError(
                "tasks are disabled (tasks.enabled is false)", hint="set tasks.enabled: true"
            )
        if not self._started:
            return TaskQueueError(
                "the tasks app is not started",
                hint="use 'async with app:' (or 'await app.start()' / 'app.start_sync()') first",
            )
        return None

    # -- lifecycle ---------------------------------------------------------
    def _check_bindings(self) -> None:
        """Refuse, at start, task options the chosen engine cannot honour."""
        problems = []
        for task in self.registry:
            backend, _ = self.backend_set.route(task.queue, self.backend_set.primary)
            caps = backend.engine.capabilities
            if task.priority is not None and not caps.priority:
                problems.append(
                    f"{task.name}: priority={task.priority} (the {backend.key} engine has no priority)"
                )
            if task.idempotency_key is not None and not caps.idempotency_keys:
                problems.append(
                    f"{task.name}: idempotency_key (the {backend.key} engine has no idempotency keys)"
                )
        if problems:
            raise ConfigurationError(
                "task options the engine cannot honour: " + "; ".join(problems),
                hint="remove the option or choose an engine that supports it (see the capability table)",
            )

    async def start(self) -> None:
        """Connect every engine and bind the registered tasks. Unreachable brokers
        are logged (redacted) and retried later; they do not fail the start."""
        if self._started:
            return
        self.backend_set.bind_task_queues(self.registry)
        self._check_bindings()
        self._loop = asyncio.get_running_loop()
        for backend in self.backend_set:
            try:
                await backend.engine.connect()
            except ConfigurationError:
                raise  # e.g. a database schema that is behind: not a broker that may come back
            except TaskQueueError as exc:
                log.warning("%s: could not connect at start: %s", backend.engine.describe(), exc)
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.worker.max_concurrent_tasks, thread_name_prefix="lexigram-task"
        )
        set_inline_resolver(self.container)
        self._started = True
        try:
            for hook in self._startup_hooks:
                await hook(self)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop any worker, close every engine. Idempotent."""
        if not self._started or self._closing:
            return
        self._closing = True
        try:
            self.stop_worker()
            for backend in self.backend_set:
                try:
                    await backend.engine.close()
                except Exception:
                    log.exception("%s: close failed", backend.engine.describe())
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            release_inline_resolver(self.container)
        finally:
            self._started = False
            self._closing = False

    async def __aenter__(self) -> TasksApp:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def start_sync(self) -> TasksApp:
        """Start on a background event loop, for sync applications."""
        if self._started:
            return self
        thread = LoopThread()
        try:
            thread.run(self.start())
        except BaseException:
            thread.stop()
            raise
        self._thread = thread
        return self

    def close_sync(self) -> None:
        """Sync twin of :meth:`close`; stops the background loop.

        For an app started with ``async with``/``start()``, closes it on its
        loop from this (another) thread.
        """
        if self._thread is None:
            if self._started:
                call_in_loop(self._loop, self.close)
            return
        self._thread.run(self.close())
        self._thread.stop()
        self._thread = None

    # -- scheduling ----------------------------------------------------------
    def make_scheduler(self, *, start: datetime | None = None) -> Scheduler:
        """A scheduler over this app's schedules (``tick(now)`` drives it)."""
        self.scheduler = Scheduler(self, start=start)
        return self.scheduler

    async def enqueue_fire_time(self, schedule: Schedule, fire: datetime) -> Result[str, TaskQueueError]:
        """Enqueue one fire time: a deterministic job id, and the engine's fire-time
        guard (``JobEnvelope.fire_key``), so a fire time yields one job, ever."""
        handle = self.queue
        options = CallOptions(queue=schedule.queue, job_id=schedule_job_id(schedule.name, fire))
        return await handle._enqueue_one(
            schedule_call(schedule), options, True, None, fire_key=fire_key(schedule.name, fire)
        )

    async def run_scheduler(self, stop: asyncio.Event) -> None:
        """Fire this app's schedules until ``stop`` is set (an engine's own worker
        process runs this beside its jobs)."""
        await self.make_scheduler().run(stop)

    # -- workers ---------------------------------------------------------------
    def execution_context(self) -> ExecutionContext:
        """What any engine's worker needs to execute a job of this app."""
        return ExecutionContext(
            registry=self.registry,
            resolver=self.container,
            default_policy=self.default_policy,
            default_timeout=self.config.worker.default_timeout,
            executor=self._executor,
        )

    def settler(self) -> Settler:
        """The settle step every engine's worker hands its attempts to."""
        return Settler(self.execution_context(), self.events, self.hooks)

    async def worker_started(self) -> None:
        """A worker process is ready to run this app's jobs: the ``worker_started`` hooks."""
        if self.hooks.registered:
            await self.hooks.fire("worker_started", self)

    async def worker_stopped(self) -> None:
        """A worker process stops running this app's jobs: the ``worker_stopped`` hooks."""
        if self.hooks.registered:
            await self.hooks.fire("worker_stopped", self)

    def reset_after_fork(self) -> None:
        """In a forked child process: forget the parent's started state (its loop
        and executor belong to threads that do not exist here) without closing
        anything the parent still uses, so the child starts its own app."""
        self._started = False
        self._closing = False
        self._loop = None
        self._executor = None
        self._thread = None

    def stop_worker(self, *, force: bool = False) -> None:
        """Ask a running worker to stop: gracefully (what SIGTERM does), or at once
        with ``force`` (running jobs go back to their queues, attempts not counted)."""
        for worker in list(self._workers):
            worker.stop(force=force)

    async def run_worker(
        self,
        *,
        until_idle: bool = False,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        fail_fast: bool = False,
        scheduler: bool | None = None,
        handle_signals: bool = False,
    ) -> int:
        """Run jobs in this process (memory and PostgreSQL engines).

        Args:
            until_idle: Return when no job is ready, running or waiting on a
                retry delay (jobs with a future delay/eta are not waited for).
            queues: Queue names to consume (default: all of the app's).
            concurrency: Jobs at once (default ``worker.max_concurrent_tasks``).
            fail_fast: Raise :class:`JobFailed` at the first failed attempt (tests).
            scheduler: Also fire schedules (default ``scheduler.enabled``; never
                with ``until_idle``).
            handle_signals: Stop gracefully on SIGTERM/SIGINT.

        Returns:
            How many job attempts were processed.
        """
        if (error := self.not_ready_error()) is not None:
            raise error
        worker = AppWorker(
            self,
            until_idle=until_idle,
            queues=queues,
            concurrency=concurrency,
            fail_fast=fail_fast,
            scheduler=scheduler,
        )
        self._workers.add(worker)
        try:
            return await worker.run(handle_signals=handle_signals)
        finally:
            self._workers.discard(worker)
            self.worker_stop_signal = worker.stop_signal

    def run_worker_sync(
        self,
        *,
        until_idle: bool = False,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        fail_fast: bool = False,
        scheduler: bool | None = None,
    ) -> int:
        """Sync twin of :meth:`run_worker` (for sync apps and test suites),
        run on the app's loop; blocks this thread until the worker returns."""
        return call_in_loop(
            self._loop,
            lambda: self.run_worker(
                until_idle=until_idle,
                queues=queues,
                concurrency=concurrency,
                fail_fast=fail_fast,
                scheduler=scheduler,
            ),
        )
