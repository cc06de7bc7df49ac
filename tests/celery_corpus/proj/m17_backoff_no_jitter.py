"""retry_backoff=True, retry_jitter=False: countdowns 1 s, 2 s."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(
    bind=True, autoretry_for=(ConnectionError,), retry_backoff=True, retry_jitter=False, max_retries=2
)
def backoff(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < 2:
        raise ConnectionError("flaky")
    return "done"


def scenario():
    return {"a": backoff.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", "done")}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(1.0, 1.0), (2.0, 2.0)]}
