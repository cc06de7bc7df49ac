"""The engine's Dramatiq middleware: the worker-process side of an app.

- ``before_worker_boot``: the worker's idle poll becomes ``worker.poll_interval``;
  the app starts on the ``AsyncIO`` event loop (DI, named queues, startup
  hooks) before any message is taken; and a SIGTERM stops the worker at once
  (the CLI's own loop notices a signal only once a second), its CLI with it.
- ``before_worker_shutdown``: jobs still running ``worker.shutdown_timeout``
  later are interrupted and given back to their queue, attempt uncounted.
- ``after_nack``: a message Dramatiq dead-lettered (its actor is unknown
  here, or the worker could not record its outcome otherwise) is marked failed
  in the job ledger, with the worker's reason when it gave one.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

from lexigram_compat.errors import TaskNotFoundError
from lexigram_compat.outcomes import failure_of

from .actors import NACK_REASON_ATTRIBUTE
from .broker import LexigramRedisBroker

if TYPE_CHECKING:
    from types import FrameType

    from dramatiq import Broker, Worker
    from dramatiq.broker import MessageProxy

    from .actors import DramatiqWorker
    from .engine import DramatiqEngine

__all__ = ["LexigramMiddleware"]

log = logging.getLogger("lexigram_compat.dramatiq")

LOG_PIPE_HOLD = 0.05
"""Seconds a stopped worker's log pipe stays open after the worker exits."""
STOP_MARGIN_MS = 10_000
"""How much longer than ``worker.shutdown_timeout`` the worker waits for its threads."""


class LexigramMiddleware(Middleware):
    """Binds one app's engine to the Dramatiq worker that runs its actors."""

    def __init__(self, engine: DramatiqEngine) -> None:
        self.engine = engine
        self._timer: threading.Timer | None = None
        self._maintainer: _Maintainer | None = None

    @property
    def worker(self) -> DramatiqWorker:
        worker = self.engine.worker
        if worker is None:
            raise RuntimeError("the Dramatiq engine was never attached to an app")
        return worker

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        # Runs after AsyncIO's (list order), so its event loop is up; and before
        # the worker's threads start, so no message is taken before the app is.
        worker.worker_timeout = self.engine.settings.poll_interval_ms
        self.worker.boot()
        self._stop_on_sigterm(broker, worker)

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        if isinstance(broker, LexigramRedisBroker):
            self._maintainer = _Maintainer(broker, self.engine.settings.heartbeat_interval)
            self._maintainer.start()
        log.info("lexigram worker ready: %s", self.engine.describe())

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        grace = self.engine.settings.shutdown_timeout
        self._timer = threading.Timer(grace, self.worker.interrupt_running)
        self._timer.daemon = True
        self._timer.start()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        # The heartbeat goes on through the drain: a job still running after
        # SIGTERM is not rescued, and run twice, by another worker.
        if self._maintainer is not None:
            self._maintainer.stop()
            self._maintainer = None
        if self._timer is not None:
            self._timer.cancel()
        self.worker.shutdown()

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        ledger = self.engine.sync_ledger
        if ledger is None:
            return
        reason = getattr(message, NACK_REASON_ATTRIBUTE, None) or _nack_reason(message)
        try:
            ledger.run(ledger.calls.fail(message.message_id, reason))
        except Exception:
            log.exception("recording dead-lettered job %s failed", message.message_id)

    def _stop_on_sigterm(self, broker: Broker, worker: Worker) -> None:
        """In a ``dramatiq`` worker process, stop as soon as SIGTERM arrives: the
        same steps as the CLI (``worker.stop``, ``broker.close``, exit 0), without
        waiting for its once-a-second check. A second signal still kills at once."""
        if threading.current_thread() is not threading.main_thread():
            return
        original = signal.getsignal(signal.SIGTERM)
        if not callable(original) or "worker_process" not in getattr(original, "__qualname__", ""):
            return  # not the dramatiq CLI's worker process: leave signals alone
        stopping = False
        timeout = int(self.engine.settings.shutdown_timeout * 1000) + STOP_MARGIN_MS

        def stop(signum: int, frame: FrameType | None) -> Any:
            nonlocal stopping
            if stopping:
                return original(signum, frame)  # the CLI's "killing worker process"
            stopping = True
            original(signum, frame)
            worker.stop(timeout=timeout)
            broker.close()
            _hold_log_pipe(LOG_PIPE_HOLD)
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)


def _nack_reason(message: MessageProxy) -> str:
    """Why Dramatiq itself dead-lettered ``message`` (the worker gave no reason)."""
    error = message._exception
    if isinstance(error, ActorNotFound):
        error = TaskNotFoundError(f"no task named {message.actor_name!r} is registered in this worker")
    if error is None:
        return "dead-lettered by Dramatiq"
    return failure_of(error, with_traceback=False).summary()


class _Maintainer(threading.Thread):
    """Every ``interval`` seconds, :meth:`LexigramRedisBroker.maintain`: this worker's
    heartbeat, and a dead worker's messages back on their queues within about
    ``worker.lease_seconds`` (Dramatiq's chance-based maintenance may take many
    minutes on a quiet queue)."""

    def __init__(self, broker: LexigramRedisBroker, interval: float) -> None:
        super().__init__(name="lexigram-dramatiq-maintenance", daemon=True)
        self.broker = broker
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.broker.maintain()
            except Exception:
                log.warning("Redis broker maintenance failed; retrying in %ss", self.interval, exc_info=True)
            if self._stop_event.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def _hold_log_pipe(seconds: float) -> None:
    """Keep this process's end of the CLI's log pipe open a moment after it exits.

    Once its workers have exited, the CLI's main process sets a stop flag that its
    log thread reads only when a pipe has news or once a second; a pipe closing
    *after* the flag is set is such news, so the CLI exits at once instead of up
    to a second later. A forked child holds the pipe, and nothing else (the
    process sentinel the main process waits on must close with this process),
    and only sleeps: forking here is safe, the worker's threads have stopped.
    """
    pipe = _log_pipe_fd()
    if pipe is None:
        return
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:  # pragma: no cover - the child only waits and leaves
        os.closerange(3, pipe)
        os.closerange(pipe + 1, 65536)
        time.sleep(seconds)
        os._exit(0)


def _log_pipe_fd() -> int | None:
    """The descriptor the CLI's worker logging writes to (its pipe to the main process)."""
    for handler in logging.getLogger().handlers:
        connection = getattr(getattr(handler, "stream", None), "pipe", None)
        fileno = getattr(connection, "fileno", None)
        if callable(fileno):
            try:
                return int(fileno())
            except (OSError, ValueError):
                return None
    return None
