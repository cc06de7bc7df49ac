"""self.retry(eta=now + 1 s) instead of a countdown."""

from datetime import UTC, datetime, timedelta

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, max_retries=2)
def reschedule(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries == 0:
        raise self.retry(eta=datetime.now(UTC) + timedelta(seconds=1))
    return "second time"


def scenario():
    return {"a": reschedule.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", "second time")}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(0.9, 1.0)]}
