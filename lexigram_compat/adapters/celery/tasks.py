"""One real Celery task per registered task, under the same name.

The Celery task's body hands the attempt to the worker runtime (which runs
``execute`` on the process's event loop) and translates the outcome: success
returns; ``RetryLater`` becomes Celery's own ``self.retry(countdown=...)``
(a new message, same task id, ``retries + 1``) with the countdown computed by
the facade's policy; a dead letter was already stored, and the message is acked.

Nothing is acked that was not settled: when the attempt cannot be run or its
outcome cannot be recorded (state store unreachable, a result the store cannot
hold, a dead-letter write failing), or Celery cannot publish the retry message,
the message is rejected with requeue, so the job runs again (its attempt
counted). A hard time limit (prefork) requeues the message too
(``acks_on_timeout = False``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.exceptions import Reject

from lexigram_compat.worker.execution import RetryLater

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import WorkerRuntime
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


def _body(name: str, runtime: WorkerRuntime) -> Callable[..., None]:
    def run(self: Task, *args: Any, **kwargs: Any) -> None:
        try:
            outcome = runtime.run_attempt(name, self.request, list(args), dict(kwargs))
        except Exception as exc:
            log.exception(
                "job %s (%s): attempt not settled; its message goes back to the queue", self.request.id, name
            )
            raise Reject(f"attempt not settled: {type(exc).__name__}", requeue=True) from exc
        if isinstance(outcome, RetryLater):
            try:
                raise self.retry(countdown=outcome.delay, throw=True)
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
    runtime: WorkerRuntime,
    queue_of: Callable[[str | None], str],
    default_timeout: float,
) -> None:
    """Declare every task of ``registry`` on ``celery_app`` (idempotent), routing
    those with ``@task(queue=...)`` there through ``task_routes``."""
    routes = dict(celery_app.conf.task_routes or {})
    for declared in registry:
        if declared.queue is not None:
            routes[declared.name] = {"queue": queue_of(declared.queue)}
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
        )(_body(declared.name, runtime))
    celery_app.conf.task_routes = routes
