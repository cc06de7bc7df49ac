"""raise self.retry() with no exc and default_retry_delay: MaxRetriesExceededError at the end."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, max_retries=1, default_retry_delay=1)
def keep_trying(self, tag):
    record(tag, "run", retries=self.request.retries)
    raise self.retry()


def scenario():
    return {"a": keep_trying.delay(f"{M}/a")}


EXPECT = {
    "a": (
        "FAILURE",
        ["MaxRetriesExceededError", f"Can't retry proj.{M}.keep_trying[<id>] args:('{M}/a',) kwargs:{{}}"],
    )
}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(1.0, 1.0)]}
