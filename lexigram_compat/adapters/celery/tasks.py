"""One real Celery task per registered task, under the same name.

The Celery task's body hands the delivery to the worker (:mod:`.runtime`: the
ledger's start, then the core's settle step on the process's event loop) and
translates what was settled: a recorded retry (after a failed attempt, or after
an attempt whose worker was lost) becomes Celery's own
``self.retry(countdown=...)`` (a new message, same task id, ``retries + 1``)
with the countdown of the retry policy; anything else was recorded (a success,
a dead letter, a job not to run) and the message is acked.

Nothing is acked that was not settled: when the attempt cannot be started or its
outcome cannot be recorded (the ledger unreachable through every try, a
dead-letter write failing), or Celery cannot publish the retry message,
the message is rejected with requeue, so the job runs again (its attempt
counted). A hard time limit (prefork) requeues the message too
(``acks_on_timeout = False``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.exceptions import Reject

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import CeleryWorker
    from lexigram_compat.registry import TaskRegistry

__all__ = ["FacadeTask", "register_tasks"]

log = logging.getLogger("lexigram_compat.celery")

SHUTDOWN_GRACE = 30.0
"""Seconds past a task's own timeout before a prefork pool kills a stuck attempt."""


class FacadeTask(Task):  # type: ignore[misc]
    """The Celery task class of facade tasks: ack late, requeue on worker loss, retries
    decided by the facade's policy (Celery's ``max_retries`` is unlimited)."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    acks_on_timeout = False  # a hard time limit requeues the message, never drops it
    ignore_result = True
    max_retries = None
    typing = False
    serializer = "json"


def _body(name: str, worker: CeleryWorker) -> Callable[..., None]:
    def run(self: Task, *args: Any, **kwargs: Any) -> None:
        try:
            retry = worker.run_attempt(name, self.request, list(args), dict(kwargs))
        except Exception as exc:
            log.exception(
                "job %s (%s): attempt not settled; its message goes back to the queue", self.request.id, name
            )
            raise Reject(f"attempt not settled: {type(exc).__name__}", requeue=True) from exc
        if retry is not None:
            try:
                raise self.retry(countdown=retry.delay, throw=True)
            except Reject as exc:  # Celery could not publish the retry message
                log.error(
                    "job %s (%s): retry message not published (%s); the message goes back to the queue",
                    self.request.id,
                    name,
                    exc.reason,
                )
                raise Reject(f"retry not published: {exc.reason}", requeue=True) from exc

    run.__name__ = name.rpartition(".")[2] or name
    run.__qualname__ = run.__name__
    return run


def register_tasks(
    celery_app: Celery,
    registry: TaskRegistry,
    worker: CeleryWorker,
    queues: Mapping[str, str],
    default_timeout: float,
) -> None:
    """Declare every task of ``registry`` on ``celery_app`` (idempotent), routing
    those with ``@task(queue=...)`` to their physical queue (``queues``: task name
    → queue, for the tasks this engine runs) through ``task_routes``."""
    routes = dict(celery_app.conf.task_routes or {})
    for declared in registry:
        if declared.queue is not None and declared.name in queues:
            routes[declared.name] = {"queue": queues[declared.name]}
        if declared.name in celery_app.tasks:
            continue
        timeout = declared.timeout or default_timeout
        celery_app.task(
            name=declared.name,
            bind=True,
            base=FacadeTask,
            shared=False,  # not added to every other Celery app in the process
            # A backstop for prefork pools only: execute() enforces `timeout` itself.
            time_limit=timeout + SHUTDOWN_GRACE,
        )(_body(declared.name, worker))
    celery_app.conf.task_routes = routes
