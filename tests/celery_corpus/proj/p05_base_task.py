"""base= a Task subclass with on_success / on_failure / on_retry / after_return hooks."""

from celery import Task, shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


class AuditedTask(Task):
    def on_success(self, retval, task_id, args, kwargs):
        record(args[0], "on_success", retval=retval)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        record(args[0], "on_failure", exc=type(exc).__name__)

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        record(args[0], "on_retry", exc=type(exc).__name__)

    def after_return(self, status, retval, task_id, args, kwargs, einfo):  # noqa: PLR0917 - Celery's
        record(args[0], "after_return", status=status)


@shared_task(bind=True, base=AuditedTask, max_retries=1)
def audited(self, tag, fail):
    record(tag, "run", retries=self.request.retries)
    if fail and self.request.retries == 0:
        raise self.retry(exc=ValueError("once"), countdown=0.5)
    if fail:
        raise ValueError("twice")
    return "ok"


def scenario():
    return {"ok": audited.delay(f"{M}/ok", False), "bad": audited.delay(f"{M}/bad", True)}


EXPECT = {"ok": ("SUCCESS", "ok"), "bad": ("FAILURE", ["ValueError", "twice"])}
ATTEMPTS = {"ok": 1, "bad": 2}
DELAYS = {"bad": [(0.5, 0.5)]}
