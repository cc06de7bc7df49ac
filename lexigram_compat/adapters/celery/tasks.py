"""One real Celery task per registered task, under the same name.

The Celery task's body hands the delivery to the worker (:mod:`.runtime`: the
ledger's start, then the core's settle step on the process's event loop) and
translates what was settled: a recorded retry (after a failed attempt, or after
an attempt whose worker was lost) becomes Celery's own
``self.retry(countdown=...)`` (a new message, same task id, ``retries + 1``)
with the countdown of the retry policy; anything else was recorded (a success,
a dead letter, a job not to run) and the message is acked.

What was settled is also what Celery reports (its result backend when the app
has one, ``task-*`` events, the worker's log), so Celery's tools beside the
facade tell the truth: a success returns the job's result (``SUCCESS``, readable
by old ``AsyncResult(id).get()`` callers); a dead letter raises the job's own
exception (``FAILURE``, ``task-failed``, "raised unexpected"); a delivery that
was not run (a finished or cancelled job, a stale attempt) raises Celery's
``Ignore``, so nothing is stored over the job's real outcome.

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
from celery.exceptions import Ignore, Reject
from celery.exceptions import Retry as CeleryRetry

from lexigram_compat.retry import cause_of

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import CeleryWorker
    from lexigram_compat.adapters.celery.settlement import CelerySettlement
    from lexigram_compat.registry import TaskRegistry

__all__ = ["DeadLetteredJobError", "FacadeTask", "register_tasks"]

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
    acks_on_failure = True  # a job that failed was dead-lettered first: its message is done
    max_retries = None
    typing = False
    serializer = "json"


class DeadLetteredJobError(Exception):
    """A job dead-lettered by the facade, as Celery reports it when the exception
    that dead-lettered it is not at hand (e.g. its worker was lost)."""


def _failure_for_celery(settled: CelerySettlement) -> BaseException:
    """The exception Celery records for a dead-lettered job: the job's own (the real
    cause of a :class:`~lexigram_compat.retry.Retry`), unless it is one of Celery's
    control-flow exceptions, which Celery would not record as a failure."""
    error = None if settled.error is None else cause_of(settled.error)
    if isinstance(error, Exception) and not isinstance(error, CeleryRetry | Reject | Ignore):
        return error
    failure = settled.failure
    return DeadLetteredJobError(failure.summary() if failure else "dead-lettered")


def _body(name: str, worker: CeleryWorker) -> Callable[..., Any]:
    def run(self: Task, *args: Any, **kwargs: Any) -> Any:
        try:
            settled = worker.run_attempt(name, self.request, list(args), dict(kwargs))
        except Exception as exc:
            log.exception(
                "job %s (%s): attempt not settled; its message goes back to the queue", self.request.id, name
            )
            raise Reject(f"attempt not settled: {type(exc).__name__}", requeue=True) from exc
        retry = settled.requeue
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
        if settled.failure is not None:
            raise _failure_for_celery(settled)
        if not settled.completed:
            raise Ignore()  # not run here: Celery stores nothing over the job's real outcome
        return settled.result

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
            # Results (and failures) go to Celery's result backend when the app has one.
            ignore_result=bool(celery_app.conf.task_ignore_result),
            # A backstop for prefork pools only: execute() enforces `timeout` itself.
            time_limit=timeout + SHUTDOWN_GRACE,
        )(_body(declared.name, worker))
    celery_app.conf.task_routes = routes
