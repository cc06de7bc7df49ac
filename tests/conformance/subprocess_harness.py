"""A harness whose worker is another program: the engine's own worker CLI.

``SubprocessHarness`` starts the real worker command (``lexigram-compat worker``,
``dramatiq``, ``celery worker``) in a session of its own, with
:meth:`EngineHarness.worker_environ` so ``tests/conformance/worker_app.py``
builds the test's app there, and writes its output to a log file that every
failure message ends with. A subclass gives :meth:`worker_argv` and
:meth:`EngineHarness.push_raw`, and may override :meth:`wait_ready` (e.g. with
:meth:`wait_for_log` on the line the worker prints once it consumes).

- ``drain()``: start a worker, wait until :meth:`EngineHarness.idle`, stop it
  gracefully; a worker that exits on its own fails the wait at once.
- ``stop_worker()``: SIGTERM to the worker's main process (it forwards to its
  children, as under a process manager), wait for it, then SIGKILL anything
  left in its session; an exit code outside :attr:`graceful_exit_codes` fails.
- ``kill_worker()``: SIGKILL every process of the worker's session, mid-job.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, ClassVar

from .harness import WAIT_TIMEOUT, EngineHarness

__all__ = ["REPO_ROOT", "SubprocessHarness", "python_module_argv"]

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL = 4000
"""Characters of the worker's log shown in a failure message."""


class SubprocessHarness(EngineHarness):
    """Runs the engine's own worker program in a subprocess."""

    graceful_exit_codes: ClassVar[frozenset[int]] = frozenset({0})
    """Exit codes of a worker stopped with SIGTERM."""
    ready_timeout: ClassVar[float] = 30.0

    _process: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = None
    _log_path: Path | None = None
    _started_count = 0

    @abc.abstractmethod
    def worker_argv(self) -> list[str]:
        """The worker command consuming every queue of the app (program first)."""

    def worker_env(self) -> dict[str, str]:
        """The worker's environment: the test's app, importable from the repository."""
        env = self.worker_environ()
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *([path] if path else [])])
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def wait_ready(self) -> None:
        """Return once the started worker consumes (default: at once; jobs wait for it)."""

    # -- the process -------------------------------------------------------------------
    @property
    def process(self) -> asyncio.subprocess.Process:
        if self._process is None:
            raise RuntimeError("no worker is running")
        return self._process

    @property
    def worker_running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def log_text(self) -> str:
        """Everything the current (or last) worker printed."""
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        text = self.log_text()
        return text[-LOG_TAIL:] if text else "(the worker printed nothing)"

    async def start_worker(self) -> None:
        if self._process is not None:
            raise RuntimeError("a background worker is already running")
        self._started_count += 1
        self._log_path = self.recorder.path.with_name(f"worker-{self._started_count}.log")
        self._log = self._log_path.open("wb")
        argv = self.worker_argv()
        self._log.write(f"$ {' '.join(argv)}\n".encode())
        self._log.flush()
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.worker_env(),
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        try:
            await self.wait_ready()
        except BaseException:
            await self._kill_session()
            raise

    async def wait_for_log(self, pattern: str, timeout: float | None = None) -> re.Match[str]:
        """Wait until the worker's log matches ``pattern``; fail if it exits first."""
        found: list[re.Match[str]] = []

        async def printed() -> bool:
            match = re.search(pattern, self.log_text())
            if match is not None:
                found.append(match)
                return True
            return False

        await self.wait_until(printed, f"the worker printed {pattern!r}", timeout or self.ready_timeout)
        return found[0]

    async def wait_until(
        self, condition: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_TIMEOUT
    ) -> None:
        """As :meth:`EngineHarness.wait_until`, but a worker that died fails at once,
        and every failure shows the worker's log."""

        async def alive_and() -> bool:
            if self._process is not None and self._process.returncode is not None:
                raise AssertionError(
                    f"the worker exited with code {self._process.returncode} while waiting until "
                    f"{what}; its log:\n{self.log_tail()}"
                )
            return bool(await condition())

        try:
            await super().wait_until(alive_and, what, timeout)
        except AssertionError as exc:
            if "its log:" in str(exc):
                raise
            raise AssertionError(f"{exc}; the worker's log:\n{self.log_tail()}") from None

    async def stop_worker(self, timeout: float = WAIT_TIMEOUT) -> None:
        process = self.process
        if process.returncode is not None:
            code = process.returncode
            await self._reap()
            raise AssertionError(f"the worker exited (code {code}) before it was stopped:\n{self.log_tail()}")
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                code = await process.wait()
        except TimeoutError:
            await self._kill_session()
            raise AssertionError(
                f"the worker did not stop within {timeout}s of SIGTERM:\n{self.log_tail()}"
            ) from None
        await self._reap()
        if code not in self.graceful_exit_codes:
            raise AssertionError(f"the worker stopped with exit code {code}:\n{self.log_tail()}")

    async def kill_worker(self) -> None:
        self.process  # noqa: B018 - raises when none runs
        await self._kill_session()

    async def drain(self, timeout: float = WAIT_TIMEOUT) -> None:
        if self._process is not None:
            raise RuntimeError("drain() while a background worker runs; stop_worker() first")
        await self.start_worker()
        try:
            await self.wait_until(self.idle, "no job is ready, running or retrying", timeout)
        except BaseException:
            await self._kill_session()
            raise
        await self.stop_worker()

    async def close(self) -> None:
        if self._process is not None:
            await self._kill_session()
        await super().close()

    async def _kill_session(self) -> None:
        """SIGKILL the worker and every process it started; wait for the main one."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        await self._reap()

    async def _reap(self) -> None:
        """Forget the exited worker: kill what is left of its session, close its log."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def python_module_argv(module: str, *args: str) -> list[str]:
    """``python -m module args...`` with the interpreter running the tests."""
    return [sys.executable, "-m", module, *args]
