"""Celery signal handlers: metrics and error reporting."""
import logging

from celery.signals import task_failure, task_postrun, task_prerun, worker_process_init

log = logging.getLogger(__name__)
_started = {}


@task_prerun.connect
def on_prerun(sender=None, task_id=None, task=None, **kwargs):
    _started[task_id] = task.name


@task_postrun.connect
def on_postrun(sender=None, task_id=None, state=None, **kwargs):
    _started.pop(task_id, None)


@task_failure.connect
def on_failure(sender=None, task_id=None, exception=None, **kwargs):
    log.error("task %s failed: %s", task_id, exception)


@worker_process_init.connect
def init_worker(**kwargs):
    log.info("worker process ready")
