"""self.retry(max_retries=1) overrides the declaration's max_retries=5."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, max_retries=5)
def capped(self, tag):
    record(tag, "run", retries=self.request.retries)
    try:
        raise LookupError("not yet")
    except LookupError as exc:
        raise self.retry(exc=exc, countdown=0.5, max_retries=1)


def scenario():
    return {"a": capped.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["LookupError", "not yet"])}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(0.5, 0.5)]}
