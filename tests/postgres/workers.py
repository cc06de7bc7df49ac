"""Real worker processes for the engine's own tests: ``python -m lexigram_compat.cli
worker tests.conformance.worker_app:app`` on the test's section and recorder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from lexigram_compat import TasksApp
from tests.conformance.apps import build_app, worker_environ
from tests.conformance.subprocess_harness import REPO_ROOT

__all__ = ["WorkerProcess", "build_postgres_app", "wait_until"]

DEADLINE = 20.0


def build_postgres_app(section: Mapping[str, Any], recorder_path: Path) -> TasksApp:
    return build_app(section, recorder_path)


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() >= deadline:
            raise AssertionError(f"gave up after {timeout}s waiting until {what}")
        await asyncio.sleep(0.02)


class WorkerProcess:
    """One ``lexigram-compat worker`` in its own session, logging to a file."""

    def __init__(self, section: Mapping[str, Any], recorder_path: Path, log_path: Path) -> None:
        self.section = section
        self.recorder_path = recorder_path
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> WorkerProcess:
        """Start it and wait until it consumes."""
        self._spawn()
        await self.wait_for_log(r"worker started")
        return self

    def _spawn(self) -> None:
        env = {**os.environ, **worker_environ(self.section, self.recorder_path)}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lexigram_compat.cli", "worker", "tests.conformance.worker_app:app"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_for_log(self, pattern: str, timeout: float = DEADLINE) -> None:
        async def printed() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}):\n{self.log()}")
            return re.search(pattern, self.log()) is not None

        try:
            await wait_until(printed, f"the worker printed {pattern!r}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nits log:\n{self.log()[-3000:]}") from None

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    async def stop(self, timeout: float = DEADLINE) -> int:
        """SIGTERM, and wait for the exit code."""
        self.signal(signal.SIGTERM)
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
