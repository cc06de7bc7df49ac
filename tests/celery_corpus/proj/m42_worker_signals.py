"""worker_init / worker_process_init / worker_ready handlers: each fired in the worker."""

from celery.signals import worker_init, worker_process_init, worker_ready

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@worker_init.connect
def on_worker_init(sender=None, **extra):
    record(f"{M}/worker", "worker_init")


@worker_process_init.connect
def on_process_init(sender=None, **extra):
    record(f"{M}/worker", "worker_process_init")


@worker_ready.connect
def on_ready(sender=None, **extra):
    record(f"{M}/worker", "worker_ready")


def scenario():
    return {}


EXPECT: dict = {}
ATTEMPTS: dict = {}
WORKER_EVENTS = {"worker": {"worker_init", "worker_process_init", "worker_ready"}}
