"""max_retries=None: retry until it works (three failures here)."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(bind=True, max_retries=None)
def until_it_works(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < 3:
        raise self.retry(countdown=0.5)
    return self.request.retries


def scenario():
    return {"a": until_it_works.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", 3)}
ATTEMPTS = {"a": 4}
DELAYS = {"a": [(0.5, 0.5)] * 3}
