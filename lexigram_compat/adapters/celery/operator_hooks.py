"""The ``celery worker``'s operator side (presence, ``/metrics``, JSON logs) through
Celery's worker signals: they say when, :class:`~lexigram_compat.worker_operations.WorkerOperations`
does the rest. Busy slots come from Celery's own ``worker.state.active_requests``.

Celery's remote control (``celery inspect``) lists these workers too, for Celery's
tools; the presence records are what ``lexigram-compat workers`` reads on every
engine, so Celery workers write the same records as every other. The
main process chooses one metrics directory before its pool starts; a prefork
child inherits it. Celery's signals are global: each handler acts only for this
app's workers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram_compat.engine_contract import OperatorHooks

__all__ = ["install_operator_hooks"]


def install_operator_hooks(celery_app: Any, operations: OperatorHooks) -> None:
    """Connect the worker signals for ``celery_app`` (the engine's ``app.native``)."""
    from celery import signals
    from celery.worker import state

    native: Any = celery_app

    def ours(sender: Any) -> bool:
        owner: Any = getattr(sender, "app", None)
        return owner is native

    def prefork() -> bool:
        return str(native.conf.worker_pool or "prefork") == "prefork"

    def load() -> tuple[int, int, int]:
        slots = int(native.conf.worker_concurrency or 0)
        return len(state.active_requests), slots, int(state.all_total_count[0])

    def on_init(sender: Any = None, **_: Any) -> None:
        if ours(sender):
            operations.process_booted(f"celery-{os.getpid()}")

    def on_ready(sender: Any = None, **_: Any) -> None:
        if ours(sender):
            consuming = set(native.amqp.queues.consume_from or native.amqp.queues)
            # Under prefork the jobs (and their metrics) are the children's: they serve.
            operations.worker_ready(sorted(consuming), load, serve_metrics=not prefork())

    def on_child(**_: Any) -> None:
        # A prefork child runs one job at a time; the first child to bind serves.
        operations.use_json_logs_if_wanted()
        if prefork():
            operations.serve_metrics(1)

    def on_logging(**_: Any) -> None:
        operations.use_json_logs_if_wanted()

    def on_shutdown(sender: Any = None, **_: Any) -> None:
        operations.worker_stopping()

    signals.worker_init.connect(on_init, weak=False)
    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_process_init.connect(on_child, weak=False)
    signals.after_setup_logger.connect(on_logging, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
