"""The ``celery worker``'s presence record: worker signals run a
:class:`~lexigram_compat.presence.ThreadedHeartbeat` in the worker's main
process (busy slots from Celery's own ``worker.state.active_requests``).

Celery's remote control (``celery inspect``) would list workers too, but the
engine turns it off (``worker_enable_remote_control=False``: no pidbox queues
on the broker), so Celery workers write the same records as every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lexigram_compat.presence import Heartbeat, ThreadedHeartbeat

if TYPE_CHECKING:
    from lexigram_compat.backends import Backend

__all__ = ["install_celery_presence"]


def install_celery_presence(celery_app: Any, backend: Backend) -> None:
    """Write a presence record from each ``celery worker`` of ``celery_app``
    (Celery's signals are global: handlers act only for this app's workers)."""
    from celery import signals
    from celery.worker import state

    app: Any = celery_app
    beats: list[ThreadedHeartbeat] = []

    def load() -> tuple[int, int, int]:
        slots = int(celery_app.conf.worker_concurrency or 0)
        return len(state.active_requests), slots, int(state.all_total_count[0])

    def on_ready(sender: Any = None, **_: Any) -> None:
        owner: Any = getattr(sender, "app", None)
        if owner is not app:
            return
        consuming = set(app.amqp.queues.consume_from or app.amqp.queues)
        queues = [q for q in backend.queues() if q in consuming]
        beat = ThreadedHeartbeat(Heartbeat(backend, queues, load))
        beat.start()
        beats.append(beat)

    def on_shutdown(sender: Any = None, **_: Any) -> None:
        while beats:
            beats.pop().stop()

    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
