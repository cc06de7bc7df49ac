"""What a ``celery worker`` adds for operators, through Celery's worker signals:
its presence record (``lexigram-compat workers``; busy slots from Celery's own
``worker.state.active_requests``), ``/metrics`` when a metrics port is
configured, and JSON log lines (``tasks.logging.format: json``).

Celery's remote control (``celery inspect``) would list workers too, but the
engine turns it off (``worker_enable_remote_control=False``: no pidbox queues
on the broker), so Celery workers write the same records as every other.

Metrics: the main process chooses one multiprocess directory before its pool
starts; a prefork child inherits it, and the first process to bind the port
serves every process's values, summed. Celery's signals are global: each
handler acts only for this app's workers.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from lexigram_compat import metrics
from lexigram_compat.json_logs import json_wanted, use_json_logs
from lexigram_compat.presence import Heartbeat, ThreadedHeartbeat

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["install_celery_hooks"]


def install_celery_hooks(celery_app: Any, app: TasksApp, backend: Backend) -> None:
    """Connect the worker signals for ``celery_app`` (the engine's ``app.native``)."""
    from celery import signals
    from celery.worker import state

    native: Any = celery_app
    beats: list[ThreadedHeartbeat] = []

    def ours(sender: Any) -> bool:
        owner: Any = getattr(sender, "app", None)
        return owner is native

    def prefork() -> bool:
        return str(native.conf.worker_pool or "prefork") == "prefork"

    def port() -> int | None:
        chosen = metrics.metrics_port(app)
        return chosen if chosen is not None and metrics.available() else None

    def logs() -> None:
        if json_wanted(app.config.logging.format):
            use_json_logs()

    def load() -> tuple[int, int, int]:
        slots = int(native.conf.worker_concurrency or 0)
        return len(state.active_requests), slots, int(state.all_total_count[0])

    def on_init(sender: Any = None, **_: Any) -> None:
        if not ours(sender):
            return
        logs()
        if port() is not None:
            shared = os.path.join(tempfile.gettempdir(), f"lexigram-metrics-celery-{os.getpid()}")
            metrics.enable_multiprocess(os.environ.get(metrics.MULTIPROC_ENV) or shared)

    def on_ready(sender: Any = None, **_: Any) -> None:
        if not ours(sender):
            return
        consuming = set(native.amqp.queues.consume_from or native.amqp.queues)
        queues = [q for q in backend.queues() if q in consuming]
        beat = ThreadedHeartbeat(Heartbeat(backend, queues, load, app.events))
        beat.start()
        beats.append(beat)
        chosen = port()
        if chosen is not None and not prefork():
            metrics.worker_started(app, int(native.conf.worker_concurrency or 1))
            metrics.serve_metrics(app, chosen)

    def on_child(**_: Any) -> None:
        # A prefork child runs one job at a time; the first child to bind serves.
        logs()
        chosen = port()
        if chosen is not None and prefork():
            metrics.worker_started(app, 1)
            metrics.serve_metrics(app, chosen)

    def on_logging(**_: Any) -> None:
        logs()

    def on_shutdown(sender: Any = None, **_: Any) -> None:
        while beats:
            beats.pop().stop()

    signals.worker_init.connect(on_init, weak=False)
    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_process_init.connect(on_child, weak=False)
    signals.after_setup_logger.connect(on_logging, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
