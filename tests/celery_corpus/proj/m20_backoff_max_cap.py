"""retry_backoff_max=1 caps every countdown at 1 s (no jitter), max_retries=3."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(
    bind=True,
    autoretry_for=(KeyError,),
    retry_backoff=True,
    retry_backoff_max=1,
    retry_jitter=False,
    max_retries=3,
)
def capped(self, tag):
    record(tag, "run", retries=self.request.retries)
    if self.request.retries < 3:
        raise KeyError("missing")
    return self.request.retries


def scenario():
    return {"a": capped.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", 3)}
ATTEMPTS = {"a": 4}
DELAYS = {"a": [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]}
