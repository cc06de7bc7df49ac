"""task_retry with a bound retrying task: the request's retries and the reason's cause."""

from celery import shared_task
from celery.signals import task_retry

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


class Busy(Exception):
    pass


@shared_task(bind=True, max_retries=2)
def contended(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < 2:
        try:
            raise Busy(f"busy {self.request.retries}")
        except Busy as exc:
            raise self.retry(exc=exc, countdown=0.5)
    return "got it"


@task_retry.connect(sender=contended)
def retried(sender=None, request=None, reason=None, **extra):
    # Celery passes the Retry exception as the reason (its .exc is the cause); portable
    # handlers read the cause either way.
    cause = getattr(reason, "exc", None) or reason
    record(request.args[0], "retry-signal", retries=request.retries, cause=str(cause))


def scenario():
    return {"a": contended.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", "got it")}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(0.5, 0.5), (0.5, 0.5)]}
