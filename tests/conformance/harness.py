"""What a conformance test needs from an engine, whatever runs its worker.

``EngineHarness`` is the only thing tests touch besides the public API: the
started app, the recorder, and a way to run jobs (``drain``, a background
worker with graceful stop) and to put raw bytes on a queue. The memory engine
runs its worker in-process; later engines start their native worker (the
``dramatiq`` / ``celery worker`` / ``lexigram-compat worker`` CLI) in a
subprocess (see ``subprocess_harness.py``) with :meth:`EngineHarness.worker_environ`
pointed at ``tests/conformance/worker_app.py``; each engine's :class:`EngineSpec`
lives in its own module of ``tests/conformance/engines/``.

The contract a harness keeps: jobs run only inside ``drain()`` and between
``start_worker()`` and ``stop_worker()`` - never from a worker left running -
because tests enqueue several jobs first and then observe the order they ran
in. A subprocess harness can build ``drain()`` from a worker it starts,
:meth:`EngineHarness.idle` polled with ``wait_until``, and a graceful stop.
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from lexigram_compat import JobInfo, JobStatus, TaskConfig, TaskQueueError, TaskRegistry, TasksApp
from lexigram_compat.adapters.memory import MemoryEngine
from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.result import Result

from .apps import build_app, engine_capabilities, worker_environ
from .recorder import Recorder

__all__ = [
    "BASELINE",
    "SUITE_SECTION",
    "EngineHarness",
    "EngineSpec",
    "MemoryHarness",
    "assert_waited",
    "deep_merge",
    "err",
    "ok",
    "qualified",
]

T = TypeVar("T")

BASELINE = ("job_status", "dead_letters")
"""Capabilities every engine must have for the suite to observe it at all (SPEC §1.4, §1.7)."""
WAIT_TIMEOUT = 20.0
"""Default deadline of every wait; generous, since it only bounds a failure."""
POLL_INTERVAL = 0.01

SUITE_SECTION: Mapping[str, Any] = {
    "scheduler": {"enabled": False},
    "retry": {
        "max_attempts": 3,
        "base_delay": 0.05,
        "backoff_factor": 2.0,
        "max_delay": 1.0,
        "jitter": False,
    },
    "worker": {
        "max_concurrent_tasks": 4,
        "poll_interval": 0.05,
        "shutdown_timeout": 5.0,
        "default_timeout": 30.0,
    },
}
"""The ``tasks:`` settings every engine runs the suite with (fast retries and polls);
a test adds its own with ``@pytest.mark.tasks_config({...})``."""


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, merging nested mappings."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class EngineHarness(abc.ABC):
    """One engine under test, with its own app and recorder file (one per test)."""

    def __init__(
        self,
        key: str,
        section: Mapping[str, Any],
        recorder_path: Path,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        self.key = key
        self.section = section
        self.recorder = Recorder(recorder_path)
        self.services: Mapping[str, Any] = services or {}
        """The values of :attr:`EngineSpec.fixtures` (servers' URLs, ...), by fixture name;
        a harness adds what it needs to ``section`` before :meth:`start`."""
        self._app: TasksApp | None = None

    @property
    def app(self) -> TasksApp:
        """The started app the test enqueues through."""
        if self._app is None:
            raise RuntimeError("the harness is not started")
        return self._app

    @property
    def capabilities(self) -> Capabilities:
        return self.app.queue.backend.engine.capabilities

    @property
    def default_queue(self) -> str:
        """The physical name of the primary queue."""
        return self.app.queue.backend.queue_name

    def new_app(self, tasks: TaskRegistry | None = None) -> TasksApp:
        """Another app (not started) from the same config, container and recorder."""
        return build_app(self.section, self.recorder.path, tasks=tasks)

    def worker_environ(self) -> dict[str, str]:
        """The environment for a worker subprocess: ``tests/conformance/worker_app.py``
        then builds the same app (section, tasks, container, recorder file) as :meth:`new_app`."""
        return {**os.environ, **worker_environ(self.section, self.recorder.path)}

    async def start(self) -> None:
        self._app = self.new_app()
        await self._app.start()

    async def close(self) -> None:
        if self._app is not None:
            await self._app.close()

    # -- running jobs --------------------------------------------------------------
    @abc.abstractmethod
    async def drain(self, timeout: float = WAIT_TIMEOUT) -> None:
        """Run jobs until none is ready, running or waiting on a retry delay
        (jobs delayed into the future are not waited for)."""

    @abc.abstractmethod
    async def start_worker(self) -> None:
        """Start a worker consuming every queue of the app, in the background."""

    @abc.abstractmethod
    async def stop_worker(self, timeout: float = WAIT_TIMEOUT) -> None:
        """Stop the background worker gracefully (what SIGTERM does) and wait for it to exit."""

    @abc.abstractmethod
    async def push_raw(self, queue: str, payload: bytes) -> None:
        """Put bytes on a physical queue as the broker would deliver them to a worker."""

    async def push_on_wire(self, queue: str, payload: bytes) -> None:
        """Put bytes where the broker's consumer reads them, with no framing at all: on
        Redis, the list item itself (not a message the broker wraps); elsewhere as
        :meth:`push_raw`, whose bytes already reach the consumer's decoder unwrapped."""
        await self.push_raw(queue, payload)

    async def push_envelope(self, envelope: JobEnvelope) -> None:
        """Put a job on its queue without the producer's validation (engines with a
        wire format of their own translate the envelope as their producer would)."""
        await self.push_raw(envelope.queue, envelope.to_bytes())

    async def kill_worker(self) -> None:
        """SIGKILL the background worker (every process of it) mid-job; only
        harnesses of crash-safe engines, whose worker is another process, can."""
        raise NotImplementedError(f"{type(self).__name__} has no worker process to kill")

    async def idle(self) -> bool:
        """No job of the app is ready, running or waiting on a retry delay (what
        ``drain()`` waits for; jobs delayed into the future do not count)."""
        for backend in self.app.backend_set:
            for queue in backend.queues():
                for status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.RETRYING):
                    if await backend.engine.count(queue, status):
                        return False
        return True

    # -- waiting, never sleeping blind -----------------------------------------------
    async def wait_until(
        self, condition: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_TIMEOUT
    ) -> None:
        """Poll ``condition`` until it holds; fail naming ``what`` at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await condition():
            if loop.time() >= deadline:
                raise AssertionError(f"gave up after {timeout}s waiting until {what}")
            await asyncio.sleep(POLL_INTERVAL)

    async def wait_for(
        self, job_id: str, statuses: JobStatus | Iterable[JobStatus], timeout: float = WAIT_TIMEOUT
    ) -> JobInfo:
        """Poll ``get_job`` until the job reaches one of ``statuses``; return its info."""
        wanted = frozenset({statuses} if isinstance(statuses, JobStatus) else statuses)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            info = await self.app.queue.get_job(job_id)
            if info is not None and info.status in wanted:
                return info
            if loop.time() >= deadline:
                raise AssertionError(
                    f"job {job_id} did not reach {sorted(wanted)} within {timeout}s; last seen: {info!r}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def info(self, job_id: str) -> JobInfo:
        """``get_job`` that must find the job."""
        found = await self.app.queue.get_job(job_id)
        assert found is not None, f"get_job({job_id!r}) returned None"
        return found


class MemoryHarness(EngineHarness):
    """The memory engine: the app's own worker runs on the test's event loop."""

    _worker: asyncio.Task[int] | None = None  # the background worker, between start/stop_worker

    async def drain(self, timeout: float = WAIT_TIMEOUT) -> None:
        if self._worker is not None:
            raise RuntimeError("drain() while a background worker runs; stop_worker() first")
        async with asyncio.timeout(timeout):
            await self.app.run_worker(until_idle=True, scheduler=False)

    async def start_worker(self) -> None:
        if self._worker is not None:
            raise RuntimeError("a background worker is already running")
        self._worker = asyncio.create_task(self.app.run_worker(scheduler=False))
        # Yield once so run_worker begins: a stop asked before it has would be lost.
        await asyncio.sleep(0)

    async def stop_worker(self, timeout: float = WAIT_TIMEOUT) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            raise RuntimeError("no background worker is running")
        if worker.done():
            await worker  # it died: re-raise why
            raise AssertionError("the background worker exited before it was stopped")
        self.app.stop_worker()  # once: a second request means "stop at once"
        async with asyncio.timeout(timeout):
            await worker

    @property
    def _engine(self) -> MemoryEngine:
        engine = self.app.queue.backend.engine
        assert isinstance(engine, MemoryEngine)
        return engine

    async def push_raw(self, queue: str, payload: bytes) -> None:
        self._engine.push_raw(queue, payload)

    async def push_envelope(self, envelope: JobEnvelope) -> None:
        # A broker delivers a message under its own id: keep the envelope's.
        self._engine.push_raw(envelope.queue, envelope.to_bytes(), job_id=envelope.job_id)

    async def close(self) -> None:
        if self._worker is not None:
            await self.stop_worker()
        await super().close()


@dataclass(frozen=True)
class EngineSpec:
    """How to run the suite on one engine and broker."""

    key: str
    section: Mapping[str, Any]
    """``tasks:`` settings selecting the engine and broker (merged over :data:`SUITE_SECTION`)."""
    harness: type[EngineHarness]
    fixtures: tuple[str, ...] = ()
    """Fixtures the harness needs (a server, e.g. ``"postgres_service"``), requested per
    test and handed to it as ``services``: a missing server fails in CI, never skips."""

    @cached_property
    def capabilities(self) -> Capabilities:
        """Declared by the engine class; read without connecting anything."""
        return engine_capabilities(TaskConfig.from_dict({"tasks": dict(self.section)}, environ={}))


# -- assertions on results ----------------------------------------------------------------
def ok(result: Result[T, TaskQueueError]) -> T:
    """The value of an ``Ok``; fail the test showing the error otherwise."""
    assert result.is_ok(), f"expected Ok, got {result!r}"
    return result.unwrap()


def err(result: Result[Any, TaskQueueError]) -> TaskQueueError:
    """The error of an ``Err``; fail the test showing the value otherwise."""
    assert result.is_err(), f"expected Err, got {result!r}"
    return result.unwrap_err()


def qualified(error_type: type[BaseException]) -> str:
    """How dead letters name an error type (builtins unqualified)."""
    if error_type.__module__ == "builtins":
        return error_type.__qualname__
    return f"{error_type.__module__}.{error_type.__qualname__}"


CLOCK_SLACK = 1e-4
"""Timestamps have microsecond resolution and are compared as floats."""
LATENESS = 2.0
"""How late a due job may start: a generous bound, far above any poll interval."""


def assert_waited(gap: float, low: float, high: float) -> None:
    """``gap`` seconds lie in ``[low, high]``: the lower bound strictly, the upper
    with :data:`LATENESS` to spare (a loaded machine may start a due job late)."""
    assert gap >= low - CLOCK_SLACK, f"waited {gap:.4f}s, less than the lower bound {low:.4f}s"
    assert gap <= high + LATENESS, f"waited {gap:.4f}s, far over the upper bound {high:.4f}s"
