"""Running an app's jobs in this process: one ``SourceWorker`` per backend, the
scheduler beside them, and signal handling (SIGTERM/SIGINT: graceful; a second
signal: stop at once, returning running jobs to their queues)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from lexigram_compat.errors import ConfigurationError
from lexigram_compat.presence import start_heartbeats
from lexigram_compat.worker.runtime import SourceWorker, WorkerOptions

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["AppWorker", "check_runnable"]

log = logging.getLogger("lexigram_compat.worker")


def check_runnable(app: TasksApp, queues: list[str] | None) -> dict[Backend, list[str]]:
    """The backends and queues a worker would consume, or ``ConfigurationError``
    when one of them is run by its engine's own worker (Celery, Dramatiq)."""
    selected = app.backend_set.select(queues or app.config.worker.queues)
    for backend in selected:
        if backend.engine.job_source() is None:
            raise ConfigurationError(
                f"the {backend.key} engine's jobs are run by its own worker: "
                f"{backend.engine.capabilities.worker}",
            )
    return selected


class AppWorker:
    """One run of ``app.run_worker``."""

    def __init__(
        self,
        app: TasksApp,
        *,
        until_idle: bool,
        queues: list[str] | None,
        concurrency: int | None,
        fail_fast: bool,
        scheduler: bool | None,
    ) -> None:
        self.app = app
        self.until_idle = until_idle
        self.stop_signal: signal.Signals | None = None
        """The first SIGTERM/SIGINT received (with ``handle_signals``), or None."""
        self.selected = check_runnable(app, queues)
        self.stopping = asyncio.Event()
        self.forced = asyncio.Event()
        cfg = app.config.worker
        self.workers = [
            SourceWorker(
                source,
                app.settler(),
                WorkerOptions(
                    queues=names,
                    concurrency=concurrency or cfg.max_concurrent_tasks,
                    poll_interval=cfg.poll_interval,
                    shutdown_timeout=cfg.shutdown_timeout,
                    heartbeat_interval=cfg.effective_heartbeat_interval,
                    until_idle=until_idle,
                    fail_fast=fail_fast,
                ),
                stopping=self.stopping,
                forced=self.forced,
            )
            for backend, names in self.selected.items()
            if (source := backend.engine.job_source()) is not None
        ]
        enabled = app.config.scheduler.enabled if scheduler is None else scheduler
        self.run_scheduler = enabled and not until_idle and bool(app.registry.schedules())

    def stop(self, *, force: bool = False) -> None:
        """Graceful stop; with ``force`` (or when already stopping) stop at once."""
        if force or self.stopping.is_set():
            self.forced.set()
        self.stopping.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stop_signal is None:
            self.stop_signal = sig
        if self.stopping.is_set():
            log.warning("received %s again: stopping now, running jobs go back to the queue", sig.name)
            self.stop(force=True)
            return
        log.info(
            "received %s: finishing running jobs (shutdown_timeout=%ss; send it again to stop now)",
            sig.name,
            self.app.config.worker.shutdown_timeout,
        )
        self.stop()

    async def run(self, *, handle_signals: bool) -> int:
        """Consume until stopped (or idle); return the attempts processed."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self._on_signal, sig)
                    installed.append(sig)
        extra: list[asyncio.Task[None]] = []
        if self.run_scheduler:
            sched = self.app.scheduler or self.app.make_scheduler()
            extra.append(asyncio.create_task(sched.run(self.stopping)))
        extra.extend(start_heartbeats(self))  # live-worker records for `lexigram-compat workers`
        try:
            await self.app.worker_started()
            await asyncio.gather(*(w.run() for w in self.workers))
        finally:
            self.stopping.set()
            await asyncio.gather(*extra, return_exceptions=True)
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.app.worker_stopped()
        return sum(w.processed for w in self.workers)
