"""autoretry_for + retry_kwargs(countdown, max_retries): two failures, then success."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_kwargs={"max_retries": 3, "countdown": 0.5})
def fetch(self, tag, fail_times):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < fail_times:
        raise ConnectionError(f"refused {self.request.retries}")
    return "fetched"


def scenario():
    return {"a": fetch.delay(f"{M}/a", 2)}


EXPECT = {"a": ("SUCCESS", "fetched")}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(0.5, 0.5), (0.5, 0.5)]}
