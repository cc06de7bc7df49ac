"""Subjects whose jobs an engine's own worker program runs (``dramatiq``, ``celery worker``).

:class:`WorkerSubject` holds what such rows share: the worker subprocess (started
in its own session, ready once its log shows :attr:`WorkerSubject.ready_marker`,
stopped with SIGTERM and then anything left of its session killed), ``drain``
timed from the worker's start until no job is left, and the latency probe,
whose job pushes ``"<token>:<time.time()>"`` onto a Redis list the subject
pops. A family module gives the worker's command line, how many jobs are left
and how a probe job is sent.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.harness import Subject

__all__ = ["ANCHOR", "PROBE_TIMEOUT", "ROOT", "Shape", "WorkerSubject", "session_cpu_seconds"]

ROOT = Path(__file__).resolve().parents[1]
PROBE_TIMEOUT = 10.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Shape:
    """How the worker program is started: ``processes`` x ``concurrency`` with ``pool``
    (Celery's ``-P``; Dramatiq always runs threads)."""

    processes: int
    concurrency: int
    pool: str = "threads"

    @property
    def label(self) -> str:
        pool = "" if self.pool == "threads" else f" {self.pool}"
        return f"{self.processes}x{self.concurrency}{pool}"


ANCHOR = Shape(1, 8)
"""The raw engines' anchor shape: one process, 8 concurrent jobs."""


def session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of every live process in ``session`` (a worker
    started with ``start_new_session``: its sid is its pid), children it already
    reaped included. Read from ``/proc`` (Linux): CPU time, unlike wall time,
    hardly moves when other programs share the cores."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = raw.rpartition(")")[2].split()  # fields[0] is field 3 (state) of proc(5)
        if int(fields[3]) != session:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / ticks


class WorkerSubject(Subject):
    """Jobs run by a worker subprocess; probes answered through a Redis list."""

    ready_marker: ClassVar[bytes]
    """What the worker prints once it consumes."""

    def __init__(self, tag: str, redis_url: str, probe_key: str, shape: Shape = ANCHOR) -> None:
        self.shape = shape
        self.redis_url = redis_url
        self.probe_key = probe_key
        self._process: asyncio.subprocess.Process | None = None
        self._log = Path(f"/tmp/{tag}-worker.log")
        self._logger = logging.getLogger("lexigram_compat")
        self._saved_level = self._logger.level
        self._tokens = 0
        self.redis: Any = None

    # -- what a family gives ----------------------------------------------------------------
    @abc.abstractmethod
    def worker_argv(self) -> list[str]:
        """The worker command line (program first)."""

    @abc.abstractmethod
    def worker_env(self) -> dict[str, str]:
        """Variables added to this process's environment for the worker."""

    @abc.abstractmethod
    async def left(self) -> int:
        """Jobs not yet done."""

    @abc.abstractmethod
    async def send_probe(self, token: int) -> None:
        """Enqueue the probe job carrying ``token``."""

    def ready_lines(self) -> int:
        """How many times :attr:`ready_marker` appears once the whole worker consumes
        (once per worker process where each says so)."""
        return 1

    def stop_after_drain(self) -> bool:
        """Count the worker's graceful stop in ``drain``: needed where :meth:`left`
        cannot see jobs a worker holds unfinished."""
        return True

    # -- setup -----------------------------------------------------------------------------------
    async def open(self) -> None:
        import redis.asyncio

        # One INFO line per job would measure the log pipe, not the queue.
        self._logger.setLevel(logging.WARNING)
        self.redis = redis.asyncio.Redis.from_url(self.redis_url)

    async def close(self) -> None:
        await self.stop_worker()
        await self.redis.delete(self.probe_key)
        await self.redis.aclose()
        self._log.unlink(missing_ok=True)
        self._logger.setLevel(self._saved_level)

    # -- the worker subprocess ------------------------------------------------------------------
    async def start_worker(self) -> None:
        env = {**os.environ, **self.worker_env(), "PYTHONPATH": str(ROOT)}
        with self._log.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.worker_argv(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while self._log.read_bytes().count(self.ready_marker) < self.ready_lines():
            if self._process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self._log.read_text()[-3000:]}")
            await asyncio.sleep(0.005)

    def worker_cpu_seconds(self) -> float:
        """CPU seconds the worker program (all its processes) used so far."""
        if self._process is None:
            raise RuntimeError("no worker running")
        return session_cpu_seconds(self._process.pid)

    async def stop_worker(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    # -- the measured operations ----------------------------------------------------------------
    async def drain(self, count: int) -> float:
        await self.start_worker()
        started = time.perf_counter()
        while await self.left():  # noqa: ASYNC110 - polling another process's progress
            await asyncio.sleep(0.005)
        if self.stop_after_drain():
            await self.stop_worker()  # a graceful stop waits for the jobs still running
        return time.perf_counter() - started

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        await self.start_worker()
        try:
            yield
        finally:
            await self.stop_worker()

    async def probe(self) -> float:
        self._tokens += 1
        token = self._tokens
        before = time.time()
        await self.send_probe(token)
        reply = await self.redis.blpop([self.probe_key], timeout=PROBE_TIMEOUT)
        if reply is None:
            raise RuntimeError("a probe job did not start in time")
        raw = reply[1]
        got, _, started = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition(":")
        if int(got) != token:
            raise RuntimeError(f"probe {got} answered while waiting for {token}")
        return float(started) - before
