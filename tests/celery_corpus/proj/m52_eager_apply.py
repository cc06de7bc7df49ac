"""Eager .apply() as tests call it: in-process, no broker; a success, a failure, and a bound
task whose self.retry runs again at once."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def square(tag, x):
    record(tag, "run", x=x)
    return x * x


@shared_task
def broken(tag):
    record(tag, "run")
    raise ZeroDivisionError("eager failure")


@shared_task(bind=True, max_retries=2, default_retry_delay=30)
def settles(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < 1:
        raise self.retry(countdown=30)
    return self.request.retries


def scenario():
    ok = square.apply((f"{M}/ok", 7))
    failed = broken.apply((f"{M}/failed",))
    retried = settles.apply((f"{M}/retried",))
    return {
        "ok": [ok.state, ok.get()],
        "failed": [failed.state, type(failed.result).__name__, str(failed.result)],
        "retried": [retried.state, retried.get()],
    }


EXPECT = {
    "ok": ("VALUE", ["SUCCESS", 49]),
    "failed": ("VALUE", ["FAILURE", "ZeroDivisionError", "eager failure"]),
    "retried": ("VALUE", ["SUCCESS", 1]),
}
ATTEMPTS = {"ok": 1, "failed": 1, "retried": 2}
DELAYS = {"retried": [(0.0, 0.0)]}  # an eager retry runs again at once, its countdown not waited
