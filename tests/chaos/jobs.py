"""The fault-injection suite's task and its ledger outside every broker.

The one task, ``chaos.work``, appends ``S <job_id> <attempt> <pid> <time>`` when its
body starts and ``D ...`` when it ends to a file of its own
process in the ledger directory (:data:`LEDGER_ENV`), one ``write`` of one line
on an ``O_APPEND`` descriptor, so a SIGKILL leaves at most the lines written
before it. The job id and attempt come from the worker's ``started`` job event
(:func:`track_attempts`), published just before the body runs, through a
context variable.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from lexigram_compat import TaskRegistry, TasksApp, task
from lexigram_compat.observability import JobEvent

__all__ = ["LEDGER_ENV", "LedgerLine", "read_ledger", "registry", "track_attempts", "work"]

LEDGER_ENV = "LEXCHAOS_LEDGER"
"""The directory every worker process appends its ledger file to."""
TASK_NAME = "chaos.work"

registry = TaskRegistry()
_current: ContextVar[tuple[str, int]] = ContextVar("chaos_attempt", default=("?", 0))
_fd: dict[int, int] = {}


def _append(kind: str) -> None:
    job_id, attempt = _current.get()
    pid = os.getpid()
    fd = _fd.get(pid)
    if fd is None:
        path = Path(os.environ[LEDGER_ENV]) / f"ledger-{pid}.log"
        fd = _fd[pid] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{kind} {job_id} {attempt} {pid} {time.time():.3f}\n".encode())


@task(name=TASK_NAME, registry=registry, max_retries=9)
async def work(seq: int, seconds: float) -> int:
    """Sleeps ``seconds`` between its start and done lines: a worker killed then is mid-job."""
    _append("S")
    await asyncio.sleep(seconds)
    _append("D")
    return seq


def _on_event(event: JobEvent) -> None:
    if event.kind == "started":
        _current.set((event.job_id, event.attempt))


def track_attempts(app: TasksApp) -> None:
    """Make ``app``'s worker tell :func:`work` the job id and attempt it runs."""
    app.events.subscribe(_on_event)


@dataclass(frozen=True)
class LedgerLine:
    kind: str
    """``S`` (body started) or ``D`` (body done)."""
    job_id: str
    attempt: int
    pid: int
    at: float = 0.0
    """Wall-clock ``time.time()`` of the line."""


def read_ledger(directory: Path) -> Iterator[LedgerLine]:
    """Every complete line of every process's ledger file (a torn last line is skipped)."""
    for path in sorted(directory.glob("ledger-*.log")):
        for raw in path.read_bytes().split(b"\n"):
            parts = raw.decode(errors="replace").split(" ")
            if (
                len(parts) != 5
                or parts[0] not in ("S", "D")
                or not (parts[2].isdigit() and parts[3].isdigit())
            ):
                continue
            try:
                at = float(parts[4])
            except ValueError:
                continue  # torn by a kill
            yield LedgerLine(parts[0], parts[1], int(parts[2]), int(parts[3]), at)
