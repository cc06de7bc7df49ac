"""task_prerun / task_postrun handlers connected for one task (sender=)."""

from celery import shared_task
from celery.signals import task_postrun, task_prerun

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def watched(tag, value):
    record(tag, "run")
    return value * 2


@task_prerun.connect(sender=watched)
def before(sender=None, task_id=None, args=None, kwargs=None, **extra):
    record(args[0], "prerun", args=list(args)[1:], same_id=bool(task_id))


@task_postrun.connect(sender=watched)
def after(sender=None, task_id=None, args=None, retval=None, state=None, **extra):
    record(args[0], "postrun", retval=retval, state=state)


def scenario():
    return {"a": watched.delay(f"{M}/a", 21)}


EXPECT = {"a": ("SUCCESS", 42)}
ATTEMPTS = {"a": 1}
